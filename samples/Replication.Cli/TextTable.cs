namespace Replication.Cli;

/// <summary>Rows of text in aligned columns under a header, for people (programs use --json).</summary>
internal static class TextTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> header, IReadOnlyList<string[]> rows, string indent = "")
    {
        ProgressDisplay.Stop();
        int[] widths = [.. header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length)))];
        output.WriteLine(indent + string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (string[] row in rows)
        {
            output.WriteLine(indent + string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }

        if (rows.Count == 0)
        {
            output.WriteLine(indent + "(none)");
        }
    }
}
