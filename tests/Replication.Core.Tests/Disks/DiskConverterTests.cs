using Replication.Core.Disks;
using Replication.Core.Transfer;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks;

public sealed class DiskConverterTests
{
    private const long Size = 9L << 20;

    public static TheoryData<DiskFormat, DiskType, DiskFormat, DiskType> Pairs()
    {
        var data = new TheoryData<DiskFormat, DiskType, DiskFormat, DiskType>();
        foreach ((DiskFormat sf, DiskType st) in DiskKinds.Standalone)
        {
            foreach ((DiskFormat df, DiskType dt) in DiskKinds.Standalone)
            {
                data.Add(sf, st, df, dt);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Converts_every_format_to_every_format_byte_identical(DiskFormat sourceFormat, DiskType sourceType, DiskFormat destFormat, DiskType destType)
    {
        using var dir = new TempDirectory();
        byte[] content = DiskKinds.ScatteredContent(Size, seed: 42);
        string sourcePath = dir.File("source" + DiskKinds.Extension(sourceFormat));
        using (VirtualDisk source = DiskKinds.Create(sourcePath, sourceFormat, sourceType, Size))
        {
            source.Write(0, content);
        }

        string destPath = dir.File("dest" + DiskKinds.Extension(destFormat));
        TransferResult result;
        using (VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess))
        {
            result = await new DiskConverter().ConvertAsync(source, destPath, new DiskCreateOptions { Format = destFormat, Type = destType, BlockSize = DiskKinds.BlockSizeFor(destFormat, destType) });
        }

        Assert.Equal(TransferOptions.Default.ZeroDetectionUnit * CountNonZeroUnits(content, TransferOptions.Default.ZeroDetectionUnit), result.BytesSent);
        using (VirtualDisk dest = VirtualDisk.Open(destPath, DiskOpenOptions.ReadOnlyAccess))
        {
            Assert.Equal(destFormat, dest.Format);
            Assert.Equal(destType, dest.DiskType);
            DiskAssert.ContentEquals(content, dest);
            if (destType == DiskType.Dynamic)
            {
                // Exactly the blocks that hold non-zero data were allocated.
                Assert.Equal(CountNonZeroUnits(content, dest.BlockSize) * dest.BlockSize, dest.AllocatedBytes);
            }
        }

        // An independent reader agrees.
        string qemuRaw = dir.File("qemu.raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", DiskKinds.QemuFormat(destFormat), "-O", "raw", destPath, qemuRaw);
        DiskAssert.FilesEqual(WriteRaw(dir, content), qemuRaw);
    }

    [Fact]
    public async Task Converting_a_differencing_chain_flattens_it()
    {
        using var dir = new TempDirectory();
        byte[] model = DiskKinds.ScatteredContent(Size, seed: 1);
        string parentPath = dir.File("parent.vhdx");
        using (VirtualDisk parent = DiskKinds.Create(parentPath, DiskFormat.Vhdx, DiskType.Dynamic, Size))
        {
            parent.Write(0, model);
        }

        string childPath = dir.File("child.vhdx");
        using (VirtualDisk child = VirtualDisk.Create(childPath, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Differencing, ParentPath = parentPath }))
        {
            byte[] patch = new byte[5000];
            new Random(3).NextBytes(patch);
            child.Write(1_000_003, patch);
            patch.CopyTo(model, 1_000_003);
        }

        using (VirtualDisk child = VirtualDisk.Open(childPath, DiskOpenOptions.ReadOnlyAccess))
        {
            await new DiskConverter().ConvertAsync(child, dir.File("flat.vhd"), new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Dynamic });
        }

        using VirtualDisk flat = VirtualDisk.Open(dir.File("flat.vhd"), DiskOpenOptions.ReadOnlyAccess);
        Assert.Null(flat.Parent);
        DiskAssert.ContentEquals(model, flat);
    }

    [Fact]
    public async Task Fixed_vhd_for_azure_has_a_whole_number_of_MiB()
    {
        using var dir = new TempDirectory();
        string sourcePath = dir.File("odd.img");
        using (VirtualDisk source = VirtualDisk.Create(sourcePath, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = (5L << 20) + 3 * 512 }))
        {
            source.Write(512, new byte[] { 1, 2, 3 });
        }

        using (VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess))
        {
            await new DiskConverter().ConvertAsync(source, dir.File("azure.vhd"), new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Fixed, RoundUpToMiB = true });
        }

        using VirtualDisk vhd = VirtualDisk.Open(dir.File("azure.vhd"), DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(6L << 20, vhd.VirtualSize);
        Assert.Equal((6L << 20) + 512, new FileInfo(dir.File("azure.vhd")).Length);
        byte[] head = new byte[3];
        vhd.Read(512, head);
        Assert.Equal(new byte[] { 1, 2, 3 }, head);
    }

    [Fact]
    public async Task A_destination_smaller_than_the_source_is_refused_and_nothing_is_left_behind()
    {
        using var dir = new TempDirectory();
        using VirtualDisk source = VirtualDisk.Create(dir.File("a.img"), new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 1 << 20 });
        await Assert.ThrowsAsync<ArgumentException>(() =>
            new DiskConverter().ConvertAsync(source, dir.File("b.vhd"), new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Dynamic, VirtualSize = 512 * 1024 }));
        Assert.False(File.Exists(dir.File("b.vhd")));
    }

    private static long CountNonZeroUnits(byte[] content, int unit)
    {
        long count = 0;
        for (int offset = 0; offset < content.Length; offset += unit)
        {
            // Chunks are read per allocated extent; with 4 KiB-aligned extents units line up with the disk.
            if (content.AsSpan(offset, Math.Min(unit, content.Length - offset)).IndexOfAnyExcept((byte)0) >= 0)
            {
                count++;
            }
        }

        return count;
    }

    private static string WriteRaw(TempDirectory dir, byte[] content)
    {
        string path = dir.File("expected.raw");
        File.WriteAllBytes(path, content);
        return path;
    }
}
