namespace Replication.Cli;

/// <summary>NAME=VALUE options (--nic, --network-map).</summary>
internal static class Pairs
{
    public static Dictionary<string, string> Parse(string[]? values, string option)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string value in values ?? [])
        {
            int equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == value.Length - 1)
            {
                throw new ArgumentException($"{option} takes NAME=VALUE, not '{value}'.");
            }

            pairs[value[..equals]] = value[(equals + 1)..];
        }

        return pairs;
    }
}
