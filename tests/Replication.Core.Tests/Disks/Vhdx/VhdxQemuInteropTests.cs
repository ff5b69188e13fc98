using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>qemu-img and vhdiinfo as independent implementations: images one side writes, the other reads identically.</summary>
public sealed class VhdxQemuInteropTests
{
    private const int MiB = VhdxTestSupport.MiB;

    [Theory]
    [InlineData("dynamic", "1M", 20)]
    [InlineData("fixed", "1M", 20)]
    [InlineData("dynamic", "32M", 100)]
    [InlineData("fixed", "32M", 100)]
    public void Qemu_written_image_reads_identically(string subformat, string blockSize, int sizeMiB)
    {
        using var dir = new TempDirectory();
        string image = dir.File("qemu.vhdx");
        ExternalTool.RunChecked("qemu-img", "create", "-f", "vhdx", "-o", $"subformat={subformat},block_size={blockSize},log_size=1M", image, $"{sizeMiB}M");

        // Scattered writes: crossing 1 MiB and 32 MiB block boundaries, unaligned to blocks, at the very start and end.
        long size = (long)sizeMiB * MiB;
        var writes = new (long Offset, int Length, byte Pattern)[]
        {
            (0, 4096, 0x11),
            (MiB - 1536, 3072, 0x22),
            ((3 * MiB) + 512, 70 * 1024, 0x33),
            (size - (33 * MiB / 2), MiB + 4096, 0x44),
            (size - 8192, 8192, 0x55),
            ((5 * MiB) + 4096, 512, 0x66),
        };
        var arguments = new List<string> { "-f", "vhdx" };
        foreach ((long offset, int length, byte pattern) in writes)
        {
            arguments.Add("-c");
            arguments.Add($"write -P 0x{pattern:X2} {offset} {length}");
        }

        arguments.Add(image);
        ExternalTool.RunChecked("qemu-io", [.. arguments]);
        string raw = dir.File("qemu.raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "vhdx", "-O", "raw", image, raw);

        using (VirtualDisk disk = VirtualDisk.Open(image, DiskOpenOptions.ReadOnlyAccess))
        {
            Assert.Equal(DiskFormat.Vhdx, disk.Format);
            Assert.Equal(subformat == "fixed" ? DiskType.Fixed : DiskType.Dynamic, disk.DiskType);
            Assert.Equal(size, disk.VirtualSize);
            Assert.Equal(blockSize == "1M" ? MiB : 32 * MiB, disk.BlockSize);
            DiskAssert.ContentEqualsFile(raw, disk);
            foreach ((long offset, int length, _) in writes)
            {
                Assert.False(disk.IsKnownZero(offset, length));
            }
        }

        // Our writes into qemu's image (qemu marks new dynamic blocks ZERO), read back by qemu.
        byte[] model = File.ReadAllBytes(raw);
        using (VirtualDisk disk = VirtualDisk.Open(image))
        {
            VhdxTestSupport.RandomWrites(disk, model, new Random(sizeMiB), 12, 200_000);
            DiskAssert.ContentEquals(model, disk);
        }

        VhdxTestSupport.QemuCheck(image);
        VhdxTestSupport.AssertBytesEqual(model, VhdxTestSupport.QemuToRaw(image, dir), "qemu's reading of our writes");
    }

    [Theory]
    [InlineData(DiskType.Dynamic, MiB, 512)]
    [InlineData(DiskType.Dynamic, MiB, 4096)]
    [InlineData(DiskType.Dynamic, 32 * MiB, 512)]
    [InlineData(DiskType.Dynamic, 32 * MiB, 4096)]
    [InlineData(DiskType.Fixed, MiB, 512)]
    [InlineData(DiskType.Fixed, MiB, 4096)]
    [InlineData(DiskType.Fixed, 32 * MiB, 512)]
    [InlineData(DiskType.Fixed, 32 * MiB, 4096)]
    public void Our_image_is_valid_for_qemu_and_vhdiinfo(DiskType type, int blockSize, int sectorSize)
    {
        using var dir = new TempDirectory();
        string image = dir.File("ours.vhdx");
        // Not a whole number of blocks, so the last block is partial.
        long size = (blockSize == MiB ? 24L * MiB : 72L * MiB) + (3 * 4096);
        byte[] model = new byte[size];
        using (VirtualDisk disk = VhdxTestSupport.Create(image, type, size, blockSize, sectorSize))
        {
            Assert.Equal(type, disk.DiskType);
            Assert.Equal(sectorSize, disk.LogicalSectorSize);
            VhdxTestSupport.RandomWrites(disk, model, new Random(blockSize ^ sectorSize), 25, 300_000);
            disk.Write(size - 100, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
            new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }.CopyTo(model, size - 100);
            DiskAssert.ContentEquals(model, disk);
        }

        if (sectorSize == 512)
        {
            // qemu 7.2 opens only 512-byte-sector VHDX ("Operation not supported" otherwise).
            VhdxTestSupport.QemuCheck(image);
            Assert.Equal(size, VhdxTestSupport.QemuVirtualSize(image));
            VhdxTestSupport.AssertBytesEqual(model, VhdxTestSupport.QemuToRaw(image, dir), "qemu's reading of our image");
        }

        string info = ExternalTool.RunChecked("vhdiinfo", image);
        Assert.Contains("VHDX", info, StringComparison.Ordinal);
        Assert.Contains($"Bytes per sector\t: {sectorSize} bytes", info, StringComparison.Ordinal);
        Assert.Contains($"({size} bytes)", info, StringComparison.Ordinal);
        VhdxTestSupport.AssertBytesEqual(model, VhdxTestSupport.VhdiRead(image, dir), "libvhdi's reading of our image");

        using VirtualDisk reopened = VirtualDisk.Open(image, DiskOpenOptions.ReadOnlyAccess);
        DiskAssert.ContentEquals(model, reopened);
    }

    [Fact]
    public void Differencing_child_of_a_qemu_made_parent()
    {
        // qemu cannot open differencing VHDX, but it can make the parent: the child reads qemu's data through.
        using var dir = new TempDirectory();
        string parent = dir.File("parent.vhdx");
        string child = dir.File("child.vhdx");
        ExternalTool.RunChecked("qemu-img", "create", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", parent, "8M");
        ExternalTool.RunChecked("qemu-io", "-f", "vhdx", "-c", "write -P 0xAA 0 3M", "-c", "write -P 0xBB 5M 1M", parent);
        byte[] expected = VhdxTestSupport.QemuToRaw(parent, dir);
        using (VirtualDisk disk = VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
            VhdxTestSupport.RandomWrites(disk, expected, new Random(7), 20, 100_000);
        }

        using VirtualDisk reopened = VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess);
        DiskAssert.ContentEquals(expected, reopened);
        VhdxTestSupport.QemuCheck(parent);
    }
}
