using System.Globalization;

namespace Replication.Cli;

/// <summary>Durations as people type them: a number with ms, s, m, h or d (500ms, 30s, 5m, 1.5h, 7d), or hh:mm:ss.</summary>
internal static class Durations
{
    private static readonly (string Unit, double Seconds)[] Units = [("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];

    /// <exception cref="ArgumentException">Not a duration from 1 ms to 10 years.</exception>
    public static TimeSpan Parse(string text)
    {
        foreach ((string unit, double seconds) in Units)
        {
            if (text.EndsWith(unit, StringComparison.Ordinal) &&
                double.TryParse(text.AsSpan(0, text.Length - unit.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) &&
                value * seconds >= 0.001 && value * seconds <= TimeSpan.FromDays(3650).TotalSeconds)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan span) && span >= TimeSpan.FromMilliseconds(1))
        {
            return span;
        }

        throw new ArgumentException($"'{text}' is not a duration (examples: 500ms, 30s, 5m, 1h, 7d, 00:05:00).");
    }
}
