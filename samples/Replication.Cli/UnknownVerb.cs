using System.CommandLine;

namespace Replication.Cli;

/// <summary>
/// Finds the first word of a command line that should name a verb and does not, and says so with the nearest verb:
/// "'uplaod' is not a repl command; did you mean 'upload'?". System.CommandLine alone reports a missing command.
/// </summary>
internal static class UnknownVerb
{
    /// <summary>The message for the first unknown verb in <paramref name="args"/>, or null when every verb is known.</summary>
    public static string? Describe(RootCommand root, IReadOnlyList<string> args)
    {
        Command command = root;
        string path = "repl";
        foreach (string token in args)
        {
            // Options, directives and the arguments of a verb that has no verbs under it end the walk.
            if (command.Subcommands.Count == 0 || token.StartsWith('-') || token.StartsWith('['))
            {
                return null;
            }

            Command? next = command.Subcommands.FirstOrDefault(c => c.Name == token || c.Aliases.Contains(token));
            if (next is null)
            {
                List<string> names = [.. command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name)];
                return Nearest(token, names) is { } nearest
                    ? $"'{token}' is not a {path} command; did you mean '{nearest}'?"
                    : $"'{token}' is not a {path} command (commands: {string.Join(", ", names)})";
            }

            command = next;
            path += " " + next.Name;
        }

        return null;
    }

    /// <summary>
    /// The name closest to <paramref name="typed"/>: within a third of its length in edits (a swap of two neighbouring
    /// letters counts as one), or the only name it is a prefix of.
    /// </summary>
    private static string? Nearest(string typed, IReadOnlyList<string> names)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string name in names)
        {
            int distance = Distance(typed, name);
            if (distance <= Math.Max(1, name.Length / 3) && distance < bestDistance)
            {
                best = name;
                bestDistance = distance;
            }
        }

        if (best is null && typed.Length >= 2)
        {
            string[] prefixed = [.. names.Where(n => n.StartsWith(typed, StringComparison.Ordinal))];
            best = prefixed.Length == 1 ? prefixed[0] : null;
        }

        return best;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    private static int Distance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
