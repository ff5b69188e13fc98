using System.Globalization;

namespace Replication.Core.IO;

/// <summary>
/// Collects what is wrong with an options object, in the words of <c>Validate()</c>: every options type of this library
/// reports all its failures as messages naming the property (so a host's <c>IValidateOptions&lt;T&gt;</c> can pass them
/// on), and an operation refuses invalid options with one <see cref="ArgumentException"/> that lists them.
/// </summary>
internal sealed class OptionFailures
{
    private readonly List<string> _failures = [];

    public IReadOnlyList<string> Failures => _failures;

    /// <summary>Throws an <see cref="ArgumentException"/> naming every failure of <paramref name="failures"/>, if any.</summary>
    public static void ThrowIfAny(IEnumerable<string> failures, string paramName)
    {
        string[] all = [.. failures];
        if (all.Length > 0)
        {
            throw new ArgumentException("Invalid options: " + string.Join(" ", all), paramName);
        }
    }

    public OptionFailures Range(long value, long min, long max, string property)
    {
        if (value < min || value > max)
        {
            Add(property, string.Create(CultureInfo.InvariantCulture, $"must be from {min} to {max} (was {value})"));
        }

        return this;
    }

    public OptionFailures Range(TimeSpan value, TimeSpan min, TimeSpan max, string property, bool allowInfinite = false)
    {
        if ((value < min || value > max) && !(allowInfinite && value == Timeout.InfiniteTimeSpan))
        {
            Add(property, string.Create(CultureInfo.InvariantCulture, $"must be from {min} to {max}{(allowInfinite ? " or infinite" : "")} (was {value})"));
        }

        return this;
    }

    public OptionFailures When(bool failed, string property, string what)
    {
        if (failed)
        {
            Add(property, what);
        }

        return this;
    }

    public OptionFailures Nested(IEnumerable<string>? failures, string property)
    {
        if (failures is null)
        {
            Add(property, "must be set");
            return this;
        }

        foreach (string failure in failures)
        {
            _failures.Add(property + "." + failure);
        }

        return this;
    }

    private void Add(string property, string what) => _failures.Add($"{property} {what}.");
}
