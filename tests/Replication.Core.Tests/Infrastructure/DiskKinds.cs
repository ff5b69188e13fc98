using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>Every (format, type) this library creates without a parent, and helpers to make them.</summary>
public static class DiskKinds
{
    public static readonly (DiskFormat Format, DiskType Type)[] Standalone =
    [
        (DiskFormat.Raw, DiskType.Fixed),
        (DiskFormat.Vhd, DiskType.Fixed),
        (DiskFormat.Vhd, DiskType.Dynamic),
        (DiskFormat.Vhdx, DiskType.Fixed),
        (DiskFormat.Vhdx, DiskType.Dynamic),
    ];

    public static TheoryData<DiskFormat, DiskType> StandaloneData()
    {
        var data = new TheoryData<DiskFormat, DiskType>();
        foreach ((DiskFormat f, DiskType t) in Standalone)
        {
            data.Add(f, t);
        }

        return data;
    }

    public static string Extension(DiskFormat format) => format switch
    {
        DiskFormat.Vhd => ".vhd",
        DiskFormat.Vhdx => ".vhdx",
        _ => ".img",
    };

    /// <summary>qemu's driver name for the format.</summary>
    public static string QemuFormat(DiskFormat format) => format switch
    {
        DiskFormat.Vhd => "vpc",
        DiskFormat.Vhdx => "vhdx",
        _ => "raw",
    };

    /// <summary>Small blocks keep tests fast while still crossing many block boundaries.</summary>
    public static int? SmallBlockSize(DiskFormat format) => format switch
    {
        DiskFormat.Vhd => 512 * 1024,
        DiskFormat.Vhdx => 1 << 20,
        _ => null,
    };

    public static VirtualDisk Create(string path, DiskFormat format, DiskType type, long size) =>
        VirtualDisk.Create(path, new DiskCreateOptions { Format = format, Type = type, VirtualSize = size, BlockSize = BlockSizeFor(format, type) });

    /// <summary>The small block size for formats and types that have blocks (a fixed VHD has none).</summary>
    public static int? BlockSizeFor(DiskFormat format, DiskType type) =>
        format == DiskFormat.Vhd && type == DiskType.Fixed ? null : SmallBlockSize(format);

    /// <summary>Random data in a few scattered runs, leaving most of the disk zero.</summary>
    public static byte[] ScatteredContent(long size, int seed)
    {
        var random = new Random(seed);
        byte[] content = new byte[size];
        for (int i = 0; i < 12; i++)
        {
            int length = random.Next(1, 300_000);
            int offset = random.Next(0, (int)size - length);
            random.NextBytes(content.AsSpan(offset, length));
        }

        return content;
    }
}
