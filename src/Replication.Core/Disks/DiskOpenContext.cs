namespace Replication.Core.Disks;

/// <summary>
/// State carried while a differencing chain is opened: the caller's options and the files already on the chain,
/// so a cycle or an over-deep chain is refused instead of recursing without bound.
/// </summary>
internal sealed class DiskOpenContext
{
    private readonly HashSet<string> _chain;

    private DiskOpenContext(DiskOpenOptions options, HashSet<string> chain)
    {
        Options = options;
        _chain = chain;
    }

    /// <summary>The caller's options.</summary>
    public DiskOpenOptions Options { get; }

    /// <summary>How many disks are on the chain so far.</summary>
    public int Depth => _chain.Count;

    /// <summary>A context for opening the top of a chain.</summary>
    public static DiskOpenContext ForRoot(DiskOpenOptions options, string fullPath) =>
        new(options, new HashSet<string>(StringComparer.Ordinal) { fullPath });

    /// <summary>
    /// Opens a parent read-only, refusing a file already on the chain (a cycle) or a chain deeper than
    /// <see cref="DiskOpenOptions.MaxChainDepth"/>. <paramref name="childPath"/> and <paramref name="field"/> name the
    /// structure that pointed at the parent for the error message.
    /// </summary>
    public VirtualDisk OpenParent(string parentPath, string childPath, long fieldOffset, string field)
    {
        string full = Path.GetFullPath(parentPath);
        if (_chain.Contains(full))
        {
            throw new InvalidDiskFormatException(childPath, fieldOffset, field, $"the parent '{full}' is already on the differencing chain (a cycle)");
        }

        if (_chain.Count >= Options.MaxChainDepth)
        {
            throw new InvalidDiskFormatException(childPath, fieldOffset, field, $"the differencing chain is deeper than {Options.MaxChainDepth} disks");
        }

        var chain = new HashSet<string>(_chain, StringComparer.Ordinal) { full };
        var parentOptions = Options with { ReadOnly = true };
        return VirtualDisk.OpenCore(full, new DiskOpenContext(parentOptions, chain));
    }
}
