using System.Globalization;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Environment variables that let a run do more (or fewer) iterations of a long test. A value that is not a whole
/// number from 1 up fails the test at once, naming the variable: 0 or a typo must not turn a test into one that passes
/// having checked nothing.
/// </summary>
public static class TestKnobs
{
    public const int Maximum = 100_000;

    /// <summary>The iteration count <paramref name="variable"/> asks for, or <paramref name="defaultCount"/> when it is unset.</summary>
    public static int Count(string variable, int defaultCount) => Count(variable, Environment.GetEnvironmentVariable(variable), defaultCount);

    /// <summary>Parses a knob's value (null or empty: unset).</summary>
    public static int Count(string variable, string? value, int defaultCount)
    {
        if (string.IsNullOrEmpty(value))
        {
            return defaultCount;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1 || count > Maximum)
        {
            throw new Xunit.Sdk.XunitException(
                $"{variable}='{value}' is not an iteration count: give a whole number from 1 to {Maximum}, or unset it for the default {defaultCount}.");
        }

        return count;
    }
}
