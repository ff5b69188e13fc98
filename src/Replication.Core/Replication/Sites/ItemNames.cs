namespace Replication.Core.Replication.Sites;

/// <summary>What an item's name may be: 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', not starting with '.' or '-'.</summary>
public static class ItemNames
{
    /// <summary>Longest item name.</summary>
    public const int MaxLength = 64;

    /// <summary>True when <paramref name="name"/> is a valid item name.</summary>
    public static bool IsValid(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxLength && name[0] is not ('.' or '-')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>Throws unless <paramref name="name"/> is valid.</summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    public static void Check(string name)
    {
        if (!IsValid(name))
        {
            throw new ArgumentException($"'{name}' is not a valid item name: use 1 to {MaxLength} of A-Z, a-z, 0-9, '.', '_', '-', not starting with '.' or '-'.", nameof(name));
        }
    }

    /// <summary>An item name made from a disk file's name: its name without extension, with other characters replaced by '-'.</summary>
    public static string FromDiskPath(string path)
    {
        string stem = Path.GetFileNameWithoutExtension(path);
        string name = new([.. stem.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')]);
        name = name.TrimStart('.', '-');
        return name.Length == 0 ? "item" : name[..Math.Min(name.Length, MaxLength)];
    }
}
