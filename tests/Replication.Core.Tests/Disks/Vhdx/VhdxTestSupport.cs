using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>Helpers shared by the VHDX tests: creating disks, random writes against a byte[] model, and qemu oracles.</summary>
internal static class VhdxTestSupport
{
    public const int MiB = 1 << 20;

    public static VhdxDisk Create(string path, DiskType type, long size, int blockSize = MiB, int logicalSectorSize = 512, string? parent = null) =>
        (VhdxDisk)VirtualDisk.Create(path, new DiskCreateOptions
        {
            Format = DiskFormat.Vhdx,
            Type = type,
            VirtualSize = size,
            BlockSize = blockSize,
            LogicalSectorSize = logicalSectorSize,
            ParentPath = parent,
        });

    public static VhdxDisk Open(string path, bool readOnly = false) =>
        (VhdxDisk)VirtualDisk.Open(path, readOnly ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);

    /// <summary>Writes <paramref name="count"/> random ranges (unaligned offsets and lengths) to the disk and to the model.</summary>
    public static void RandomWrites(IVirtualDisk disk, byte[] model, Random random, int count, int maxLength)
    {
        for (int i = 0; i < count; i++)
        {
            int length = random.Next(1, maxLength + 1);
            long offset = random.NextInt64(0, model.Length - length + 1);
            byte[] data = new byte[length];
            random.NextBytes(data);
            disk.Write(offset, data);
            data.CopyTo(model, offset);
        }
    }

    /// <summary>The whole disk as a byte array.</summary>
    public static byte[] ReadAll(IVirtualDisk disk)
    {
        byte[] all = new byte[disk.VirtualSize];
        disk.Read(0, all);
        return all;
    }

    /// <summary>Converts an image to raw with qemu-img and returns the bytes.</summary>
    public static byte[] QemuToRaw(string image, TempDirectory dir)
    {
        string raw = dir.File(Path.GetFileNameWithoutExtension(image) + "-" + Guid.NewGuid().ToString("N")[..8] + ".raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "vhdx", "-O", "raw", image, raw);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary>qemu-img check must report no errors.</summary>
    public static void QemuCheck(string image) => ExternalTool.RunChecked("qemu-img", "check", "-f", "vhdx", image);

    /// <summary>The virtual size qemu-img info reports.</summary>
    public static long QemuVirtualSize(string image)
    {
        string json = ExternalTool.RunChecked("qemu-img", "info", "-f", "vhdx", "--output=json", image);
        using JsonDocument doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("virtual-size").GetInt64();
    }

    /// <summary>
    /// Reads an image through libvhdi's vhdimount (FUSE), a second reader independent of qemu that also handles
    /// 4096-byte logical sectors and differencing chains, which qemu 7.2 refuses. For a chain the mount shows one file
    /// per layer (vhdi1 the base); the top one is the image itself. The mount is always undone.
    /// </summary>
    public static byte[] VhdiRead(string image, TempDirectory dir)
    {
        string mountPoint = dir.File("mnt-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mountPoint);
        ExternalTool.RunChecked("vhdimount", image, mountPoint);
        try
        {
            string top = Directory.GetFiles(mountPoint, "vhdi*").OrderBy(f => int.Parse(Path.GetFileName(f)[4..], System.Globalization.CultureInfo.InvariantCulture)).Last();
            return File.ReadAllBytes(top);
        }
        finally
        {
            ExternalTool.RunChecked("umount", mountPoint);
        }
    }

    /// <summary>The current header as the file holds it (the valid one with the higher sequence number).</summary>
    public static VhdxHeader ReadCurrentHeader(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        bool ok1 = VhdxHeader.TryRead(file.AsSpan(64 * 1024, 4096), out VhdxHeader h1, out _);
        bool ok2 = VhdxHeader.TryRead(file.AsSpan(128 * 1024, 4096), out VhdxHeader h2, out _);
        Assert.True(ok1 || ok2, "no valid header");
        return !ok2 || (ok1 && h1.SequenceNumber > h2.SequenceNumber) ? h1 : h2;
    }

    /// <summary>Asserts two byte arrays are equal, reporting the first difference.</summary>
    public static void AssertBytesEqual(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mismatch = expected.CommonPrefixLength(actual);
        if (mismatch != expected.Length)
        {
            throw new Xunit.Sdk.XunitException($"{what}: first difference at byte {mismatch}: expected 0x{expected[mismatch]:X2}, got 0x{actual[mismatch]:X2}.");
        }
    }
}
