namespace Replication.Core.Disks;

/// <summary>How to open a disk. Immutable.</summary>
public sealed record DiskOpenOptions
{
    /// <summary>Open for reading and writing (parents are always opened read-only).</summary>
    public static DiskOpenOptions Default { get; } = new();

    /// <summary>Open read-only.</summary>
    public static DiskOpenOptions ReadOnlyAccess { get; } = new() { ReadOnly = true };

    /// <summary>Open without write access. A VHDX with a non-empty log is still replayed, in memory only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>The deepest differencing chain accepted; deeper (or cyclic) chains are rejected.</summary>
    public int MaxChainDepth { get; init; } = 64;
}
