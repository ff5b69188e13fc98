namespace Replication.Core.Disks;

/// <summary>The container format of a virtual disk file.</summary>
public enum DiskFormat
{
    /// <summary>A flat image: byte N of the file is byte N of the disk.</summary>
    Raw,

    /// <summary>Microsoft Virtual Hard Disk (VHD, 2006 specification).</summary>
    Vhd,

    /// <summary>Microsoft VHDX ([MS-VHDX]).</summary>
    Vhdx,
}
