namespace Replication.Core.Disks;

/// <summary>How a virtual disk stores its blocks.</summary>
public enum DiskType
{
    /// <summary>Every block is allocated when the file is created.</summary>
    Fixed,

    /// <summary>Blocks are allocated on first write; unallocated blocks read as zero.</summary>
    Dynamic,

    /// <summary>Blocks are allocated on first write; unallocated sectors read from a parent disk.</summary>
    Differencing,
}
