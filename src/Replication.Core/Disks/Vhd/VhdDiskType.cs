namespace Replication.Core.Disks.Vhd;

/// <summary>The footer's disk type field. Values 0, 1, 5 and 6 are reserved by the specification and refused.</summary>
internal enum VhdDiskType : uint
{
    /// <summary>Data in place before the footer.</summary>
    Fixed = 2,

    /// <summary>Blocks allocated on first write through a block allocation table.</summary>
    Dynamic = 3,

    /// <summary>A dynamic disk whose clear sector-bitmap bits read from a parent.</summary>
    Differencing = 4,
}
