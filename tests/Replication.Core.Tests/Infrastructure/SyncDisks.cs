using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// The disk formats the diff and resync tests run over, in one place: every diff, resync and mixed-format test covers
/// each of them.
/// </summary>
public static class SyncDisks
{
    public static readonly DiskFormat[] Formats = [DiskFormat.Raw, DiskFormat.Vhd, DiskFormat.Vhdx];

    /// <summary>Every (source format, target format) pair.</summary>
    public static TheoryData<DiskFormat, DiskFormat> Pairs()
    {
        var data = new TheoryData<DiskFormat, DiskFormat>();
        foreach (DiskFormat source in Formats)
        {
            foreach (DiskFormat target in Formats)
            {
                data.Add(source, target);
            }
        }

        return data;
    }

    /// <summary>Every format.</summary>
    public static TheoryData<DiskFormat> Each()
    {
        var data = new TheoryData<DiskFormat>();
        foreach (DiskFormat format in Formats)
        {
            data.Add(format);
        }

        return data;
    }

    /// <summary>A format chosen by a generated number, so property tests cover every format in the list.</summary>
    public static DiskFormat Pick(int choice) => Formats[(int)((uint)choice % (uint)Formats.Length)];

    /// <summary>Creates a disk of the format (raw fixed and sparse; VHD and VHDX dynamic with small blocks) holding <paramref name="content"/>.</summary>
    public static string Create(TempDirectory dir, string name, DiskFormat format, ReadOnlySpan<byte> content)
    {
        string path = dir.File(name + DiskKinds.Extension(format));
        DiskType type = format == DiskFormat.Raw ? DiskType.Fixed : DiskType.Dynamic;
        using VirtualDisk disk = DiskKinds.Create(path, format, type, content.Length);
        WriteNonZero(disk, content);
        disk.Flush();
        return path;
    }

    /// <summary>Reads the whole disk.</summary>
    public static byte[] ReadAll(string path)
    {
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        byte[] content = new byte[disk.VirtualSize];
        disk.Read(0, content);
        return content;
    }

    /// <summary>Writes only the non-zero 4 KiB pieces, so zero regions stay unallocated (holes, unallocated blocks).</summary>
    private static void WriteNonZero(VirtualDisk disk, ReadOnlySpan<byte> content)
    {
        const int Unit = 4096;
        for (int offset = 0; offset < content.Length; offset += Unit)
        {
            ReadOnlySpan<byte> piece = content.Slice(offset, Math.Min(Unit, content.Length - offset));
            if (piece.IndexOfAnyExcept((byte)0) >= 0)
            {
                disk.Write(offset, piece);
            }
        }
    }
}
