using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// The one list of disk kinds the change tracking tests run on: every format and type, plus
/// <see cref="DataWriteGuidDisk"/> (kind "dwg"), a double whose DataWriteGuid a test can change at will.
/// </summary>
public static class TrackedDiskKinds
{
    public static readonly string[] All =
    [
        "raw",
        "vhd-fixed",
        "vhd-dynamic",
        "vhd-differencing",
        "dwg",
        "vhdx-fixed",
        "vhdx-dynamic",
        "vhdx-differencing",
    ];

    /// <summary>The kinds the SIGKILL crash tests run on: one without blocks, one allocating blocks as it goes.</summary>
    public static readonly string[] Crash =
    [
        "raw",
        "vhd-dynamic",
        "vhdx-dynamic",
    ];

    public static TheoryData<string> CrashData()
    {
        var data = new TheoryData<string>();
        foreach (string kind in Crash)
        {
            data.Add(kind);
        }

        return data;
    }

    public static TheoryData<string> Data()
    {
        var data = new TheoryData<string>();
        foreach (string kind in All)
        {
            data.Add(kind);
        }

        return data;
    }

    /// <summary>Creates a disk of <paramref name="kind"/> holding <paramref name="content"/>; returns its path.</summary>
    public static string Create(string directory, string kind, byte[] content)
    {
        long size = content.Length;
        string path = Path.Combine(directory, "disk-" + kind);
        switch (kind)
        {
            case "dwg":
                using (DataWriteGuidDisk disk = DataWriteGuidDisk.Create(path, size))
                {
                    disk.Write(0, content);
                }

                break;
            case "vhd-differencing" or "vhdx-differencing":
                DiskFormat parentFormat = kind.StartsWith("vhdx", StringComparison.Ordinal) ? DiskFormat.Vhdx : DiskFormat.Vhd;
                string parentPath = Path.Combine(directory, "parent-" + kind);
                using (VirtualDisk parent = DiskKinds.Create(parentPath, parentFormat, DiskType.Dynamic, size))
                {
                    parent.Write(0, content);
                }

                VirtualDisk.Create(path, new DiskCreateOptions { Format = parentFormat, Type = DiskType.Differencing, ParentPath = parentPath, BlockSize = DiskKinds.SmallBlockSize(parentFormat) }).Dispose();
                break;
            default:
                (DiskFormat format, DiskType type) = Parse(kind);
                using (VirtualDisk disk = DiskKinds.Create(path, format, type, size))
                {
                    disk.Write(0, content);
                }

                break;
        }

        return path;
    }

    public static IVirtualDisk Open(string path, string kind, bool readOnly = false) => kind == "dwg"
        ? DataWriteGuidDisk.Open(path, readOnly ? DiskOpenOptions.ReadOnlyAccess : null)
        : VirtualDisk.Open(path, readOnly ? DiskOpenOptions.ReadOnlyAccess : null);

    /// <summary>A copy of the disk's file(s) as they are now (a differencing disk's copy shares its read-only parent).</summary>
    public static string Copy(string path, string kind, string copyName)
    {
        string copy = Path.Combine(Path.GetDirectoryName(path)!, copyName);
        File.Copy(path, copy);
        if (kind == "dwg")
        {
            File.Copy(path + ".dwg", copy + ".dwg");
        }

        return copy;
    }

    private static (DiskFormat, DiskType) Parse(string kind) => kind switch
    {
        "raw" => (DiskFormat.Raw, DiskType.Fixed),
        "vhd-fixed" => (DiskFormat.Vhd, DiskType.Fixed),
        "vhd-dynamic" => (DiskFormat.Vhd, DiskType.Dynamic),
        "vhdx-fixed" => (DiskFormat.Vhdx, DiskType.Fixed),
        "vhdx-dynamic" => (DiskFormat.Vhdx, DiskType.Dynamic),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown kind"),
    };
}
