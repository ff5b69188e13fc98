namespace Replication.Core.Disks;

/// <summary>What to create: format, type, size and layout. Immutable; validated by <see cref="VirtualDisk.Create"/>.</summary>
public sealed record DiskCreateOptions
{
    /// <summary>The container format.</summary>
    public required DiskFormat Format { get; init; }

    /// <summary>Fixed, dynamic or differencing. Raw supports only <see cref="DiskType.Fixed"/> (a sparse file).</summary>
    public DiskType Type { get; init; } = DiskType.Dynamic;

    /// <summary>Virtual size in bytes, a multiple of the logical sector size. For a differencing disk 0 means "the parent's size".</summary>
    public long VirtualSize { get; init; }

    /// <summary>Block size in bytes, or null for the format's default (VHD 2 MiB, VHDX 32 MiB; 1 MiB for a differencing VHDX... see the format).</summary>
    public int? BlockSize { get; init; }

    /// <summary>Logical sector size: 512 or 4096 (VHDX only; VHD and raw are always 512).</summary>
    public int LogicalSectorSize { get; init; } = 512;

    /// <summary>Physical sector size: 512 or 4096 (VHDX only).</summary>
    public int PhysicalSectorSize { get; init; } = 4096;

    /// <summary>Path of the parent disk of a differencing disk; stored relative and absolute where the format allows.</summary>
    public string? ParentPath { get; init; }

    /// <summary>Round the virtual size up to a whole number of MiB, as Azure requires of a fixed VHD.</summary>
    public bool RoundUpToMiB { get; init; }
}
