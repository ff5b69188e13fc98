using System.Globalization;

namespace Replication.Cli;

/// <summary>Parses sizes such as <c>512</c>, <c>64KiB</c>, <c>1GiB</c>, <c>2M</c> (binary units).</summary>
internal static class SizeParser
{
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("T", 1L << 40), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1),
    ];

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        string trimmed = text.Trim();
        long factor = 1;
        foreach ((string suffix, long f) in Units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                trimmed = trimmed[..^suffix.Length].TrimEnd();
                factor = f;
                break;
            }
        }

        if (!long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value < 0)
        {
            return false;
        }

        try
        {
            bytes = checked(value * factor);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
