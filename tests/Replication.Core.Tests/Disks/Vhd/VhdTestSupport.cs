using System.Buffers.Binary;
using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhd;
using Replication.Core.IO;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>Shared helpers of the VHD tests: random writes against a model, qemu calls, and in-place patching of structures.</summary>
internal static class VhdTestSupport
{
    public const int KiB = 1024;
    public const int MiB = 1024 * 1024;

    /// <summary>Writes <paramref name="count"/> random ranges (any offset and length, some aligned) to the disk and the model.</summary>
    public static void RandomWrites(IVirtualDisk disk, byte[] model, Random random, int count, int maxLength)
    {
        for (int i = 0; i < count; i++)
        {
            (long offset, int length) = RandomRange(random, model.Length, maxLength);
            byte[] data = new byte[length];
            random.NextBytes(data);
            disk.Write(offset, data);
            data.CopyTo(model, offset);
        }
    }

    /// <summary>A random range inside a disk of <paramref name="size"/> bytes: a third sector-aligned, the rest at any byte.</summary>
    public static (long Offset, int Length) RandomRange(Random random, long size, int maxLength)
    {
        bool aligned = random.Next(3) == 0;
        long offset = random.NextInt64(size);
        int length = 1 + random.Next((int)Math.Min(maxLength, size - offset));
        if (aligned)
        {
            offset &= ~511L;
            length = Math.Max(512, length & ~511);
            length = (int)Math.Min(length, size - offset);
        }

        return (offset, length);
    }

    /// <summary>Reads the whole disk.</summary>
    public static byte[] ReadAll(IVirtualDisk disk)
    {
        byte[] all = new byte[disk.VirtualSize];
        disk.Read(0, all);
        return all;
    }

    /// <summary>qemu-img's view of the virtual size.</summary>
    public static long QemuVirtualSize(string path)
    {
        string json = ExternalTool.RunChecked("qemu-img", "info", "--output=json", "-f", "vpc", path);
        using JsonDocument doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("virtual-size").GetInt64();
    }

    /// <summary>qemu-img convert to a raw file beside the image; returns its path.</summary>
    public static string QemuConvertToRaw(string path)
    {
        string raw = path + ".raw";
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "vpc", "-O", "raw", path, raw);
        return raw;
    }

    /// <summary>
    /// Rewrites the footer(s) of a file in place: <paramref name="patch"/> edits the 512 bytes, then the checksum is
    /// recomputed unless <paramref name="fixChecksum"/> is false. <paramref name="copyToo"/> patches the copy at offset 0 as well.
    /// </summary>
    public static void PatchFooter(string path, Action<byte[]> patch, bool fixChecksum = true, bool copyToo = true, bool endToo = true)
    {
        byte[] file = File.ReadAllBytes(path);
        if (endToo)
        {
            PatchStructure(file, file.Length - VhdFooter.Size, VhdFooter.Size, VhdFooter.ChecksumOffset, patch, fixChecksum);
        }

        if (copyToo && file.AsSpan(0, 8).SequenceEqual(VhdFooter.Cookie))
        {
            PatchStructure(file, 0, VhdFooter.Size, VhdFooter.ChecksumOffset, patch, fixChecksum);
        }

        File.WriteAllBytes(path, file);
    }

    /// <summary>Rewrites the dynamic header (at offset 512, where every writer we test puts it) in place.</summary>
    public static void PatchHeader(string path, Action<byte[]> patch, bool fixChecksum = true)
    {
        byte[] file = File.ReadAllBytes(path);
        long headerOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan(file.Length - VhdFooter.Size + VhdFooter.DataOffsetOffset));
        PatchStructure(file, (int)headerOffset, VhdDynamicHeader.Size, VhdDynamicHeader.ChecksumOffset, patch, fixChecksum);
        File.WriteAllBytes(path, file);
    }

    public static void PatchStructure(byte[] file, int offset, int size, int checksumOffset, Action<byte[]> patch, bool fixChecksum)
    {
        byte[] structure = file.AsSpan(offset, size).ToArray();
        patch(structure);
        if (fixChecksum)
        {
            BinaryPrimitives.WriteUInt32BigEndian(structure.AsSpan(checksumOffset), VhdChecksum.Compute(structure, checksumOffset));
        }

        structure.CopyTo(file, offset);
    }

    /// <summary>Opens a file as a VHD regardless of what format detection would say (a damaged fixed VHD looks raw).</summary>
    public static VhdDisk OpenAsVhd(string path, bool readOnly = true)
    {
        string full = Path.GetFullPath(path);
        DiskFile file = DiskFile.Open(full, writable: !readOnly);
        try
        {
            return VhdDisk.OpenImage(file, DiskOpenContext.ForRoot(readOnly ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default, full));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public static DiskCreateOptions Options(DiskType type, long size, int? blockSize = null, string? parent = null) =>
        new() { Format = DiskFormat.Vhd, Type = type, VirtualSize = size, BlockSize = blockSize, ParentPath = parent };
}
