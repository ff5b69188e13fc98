namespace Replication.Core.Replication;

/// <summary>
/// The checks the engine's descriptions and policy make when a value is set, written once. Each names the setter's
/// <c>value</c>, as a check in the setter itself would.
/// </summary>
internal static class SetterChecks
{
    /// <summary><paramref name="value"/>, when it is from <paramref name="min"/> to <paramref name="max"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is not.</exception>
    public static int InRange(int value, int min, int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, min);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, max);
        return value;
    }

    /// <summary><paramref name="value"/>, when it is a name of 1 to 256 characters, not all white space.</summary>
    /// <exception cref="ArgumentException">It is null, empty or white space; or (<see cref="ArgumentOutOfRangeException"/>) longer than 256 characters.</exception>
    public static string Name(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.Length, 256);
        return value;
    }
}
