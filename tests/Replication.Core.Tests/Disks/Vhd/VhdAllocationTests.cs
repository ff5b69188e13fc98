using System.Buffers.Binary;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Disks.Vhd.VhdTestSupport;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>Block allocation: every state a crash can leave is a valid file, concurrent writers do not lose data, zeros cost nothing.</summary>
public sealed class VhdAllocationTests
{
    private const long Size = 1 * MiB;
    private const int Block = 64 * KiB;

    /// <summary>
    /// Rebuilds, from the files before and after one allocation, each state the allocation passes through, and checks
    /// that each one opens, reads the data of before (the new block is not yet referenced), is accepted by qemu, and
    /// takes further writes.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryIntermediateStateOfAnAllocation_IsAValidFile(bool differencing)
    {
        using var dir = new TempDirectory();
        byte[] model = new byte[Size];
        string path = dir.File("disk.vhd");
        if (differencing)
        {
            string parent = dir.File("parent.vhd");
            using (VirtualDisk p = VirtualDisk.Create(parent, Options(DiskType.Dynamic, Size, Block)))
            {
                RandomWrites(p, model, new Random(1), 10, 100_000);
            }

            VirtualDisk.Create(path, Options(DiskType.Differencing, 0, Block, parent)).Dispose();
        }
        else
        {
            VirtualDisk.Create(path, Options(DiskType.Dynamic, Size, Block)).Dispose();
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            disk.Write(10, [1, 2, 3]);
            model[10] = 1;
            model[11] = 2;
            model[12] = 3;
        }

        byte[] before = File.ReadAllBytes(path);
        byte[] modelBefore = (byte[])model.Clone();
        const int block = 5;
        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            byte[] data = new byte[3000];
            new Random(2).NextBytes(data);
            disk.Write((block * Block) + 700, data);
            data.CopyTo(model, (block * Block) + 700);
        }

        byte[] after = File.ReadAllBytes(path);
        int bitmapSize = VhdDynamicHeader.BitmapSize(Block);
        Assert.Equal(before.Length + bitmapSize + Block, after.Length);
        int batEntry = 1536 + (4 * block);
        Assert.Equal((uint)(before.Length - 512) / 512, BinaryPrimitives.ReadUInt32BigEndian(after.AsSpan(batEntry)));

        // 1. The footer is at the new end; the rest is the old file.
        byte[] footerWritten = new byte[after.Length];
        before.CopyTo(footerWritten, 0);
        after.AsSpan(after.Length - 512).CopyTo(footerWritten.AsSpan(after.Length - 512));

        // 2a. The bitmap is written over the old footer, the data not yet.
        byte[] bitmapWritten = (byte[])footerWritten.Clone();
        after.AsSpan(before.Length - 512, bitmapSize).CopyTo(bitmapWritten.AsSpan(before.Length - 512));

        // 2b. Bitmap and data written, the table entry not.
        byte[] blockWritten = (byte[])after.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(blockWritten.AsSpan(batEntry), uint.MaxValue);

        foreach ((string name, byte[] state, byte[] expected) in (List<(string, byte[], byte[])>)[("footer written", footerWritten, modelBefore), ("bitmap written", bitmapWritten, modelBefore), ("block written", blockWritten, modelBefore), ("done", after, model)])
        {
            string statePath = dir.File($"state-{name.Replace(' ', '-')}.vhd");
            File.WriteAllBytes(statePath, state);
            using (VirtualDisk disk = VirtualDisk.Open(statePath, DiskOpenOptions.ReadOnlyAccess))
            {
                DiskAssert.ContentEquals(expected, disk);
            }

            if (!differencing)
            {
                // qemu does not follow VHD parents, so it can only judge the dynamic disk.
                VhdQemuInteropTests.AssertQemuAgrees(statePath, Size, expected);
            }

            byte[] next = (byte[])expected.Clone();
            using (VirtualDisk disk = VirtualDisk.Open(statePath))
            {
                RandomWrites(disk, next, new Random(3), 8, 80_000);
            }

            using (VirtualDisk disk = VirtualDisk.Open(statePath, DiskOpenOptions.ReadOnlyAccess))
            {
                DiskAssert.ContentEquals(next, disk);
            }
        }
    }

    [Fact]
    public void FooterCopyAtZero_IsNeverRewritten_AndEndFooterMatchesIt()
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk.vhd");
        VirtualDisk.Create(path, Options(DiskType.Dynamic, Size, Block)).Dispose();
        byte[] copy = File.ReadAllBytes(path)[..512];
        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            RandomWrites(disk, new byte[Size], new Random(4), 30, 100_000);
        }

        byte[] after = File.ReadAllBytes(path);
        Assert.Equal(copy, after[..512]);
        Assert.Equal(copy, after[^512..]);
    }

    [Theory]
    [InlineData(DiskType.Dynamic)]
    [InlineData(DiskType.Differencing)]
    public void ConcurrentWritersOfInterleavedRanges_LoseNothing(DiskType type)
    {
        using var dir = new TempDirectory();
        const long size = 2 * MiB;
        byte[] model = new byte[size];
        string path = dir.File("disk.vhd");
        string? parent = null;
        if (type == DiskType.Differencing)
        {
            parent = dir.File("parent.vhd");
            using VirtualDisk p = VirtualDisk.Create(parent, Options(DiskType.Dynamic, size, Block));
            RandomWrites(p, model, new Random(8), 20, 100_000);
        }

        // Stripes of 333 bytes: neighbours share sectors and blocks, and every block starts unallocated.
        const int stripe = 333;
        const int threads = 8;
        int stripes = (int)(size / stripe);
        using (VirtualDisk disk = VirtualDisk.Create(path, Options(type, type == DiskType.Differencing ? 0 : size, Block, parent)))
        {
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var random = new Random(100 + t);
                int[] mine = [.. Enumerable.Range(0, stripes).Where(s => s % threads == t).OrderBy(_ => random.Next())];
                byte[] data = new byte[stripe];
                byte[] check = new byte[stripe];
                foreach (int s in mine)
                {
                    random.NextBytes(data);
                    disk.Write((long)s * stripe, data);
                    data.CopyTo(model, (long)s * stripe);
                    disk.Read((long)s * stripe, check);
                    Assert.True(data.AsSpan().SequenceEqual(check), $"stripe {s} reads back differently");
                }
            });

            DiskAssert.ContentEquals(model, disk);
            Assert.Equal(size, disk.AllocatedBytes);
        }

        using VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        DiskAssert.ContentEquals(model, reopened);
    }

    [Fact]
    public void ZerosWhereTheDiskAlreadyReadsZero_AllocateNothing_ButZerosOverParentDataDo()
    {
        using var dir = new TempDirectory();
        string parentPath = dir.File("parent.vhd");
        using (VirtualDisk parent = VirtualDisk.Create(parentPath, Options(DiskType.Dynamic, Size, Block)))
        {
            long length = new FileInfo(parentPath).Length;
            parent.Write(0, new byte[Size]);
            parent.Write(3 * Block, new byte[Block]);
            Assert.Equal(0, parent.AllocatedBytes);
            Assert.Equal(length, new FileInfo(parentPath).Length);
            Assert.True(parent.IsKnownZero(0, Size));
            parent.Write(3 * Block, [0, 7]);
            Assert.Equal(Block, parent.AllocatedBytes);
            Assert.False(parent.IsKnownZero(3 * Block, 2));
            Assert.True(parent.IsKnownZero(0, 3 * Block));
        }

        using VirtualDisk child = VirtualDisk.Create(dir.File("child.vhd"), Options(DiskType.Differencing, 0, Block, parentPath));
        child.Write(0, new byte[3 * Block]);
        Assert.Equal(0, child.AllocatedBytes);
        child.Write((3 * Block) + 1, [0]);
        Assert.Equal(Block, child.AllocatedBytes);
        byte[] read = new byte[2];
        child.Read(3 * Block, read);
        Assert.Equal([0, 0], read);
    }

    [Fact]
    public void Extents_AreAllocatedBlocks_ClippedAndMerged()
    {
        using var dir = new TempDirectory();
        const long size = (10 * Block) + 1536;
        using VirtualDisk disk = VirtualDisk.Create(dir.File("disk.vhd"), Options(DiskType.Dynamic, size, Block));
        disk.Write(Block + 5, [1]);
        disk.Write((2 * Block) + 5, [1]);
        disk.Write(size - 1, [1]);
        Assert.Equal([new DiskExtent(Block, 2 * Block), new DiskExtent(10 * Block, 1536)], disk.GetAllocatedExtents(0, size));
        Assert.Equal([new DiskExtent(Block + 100, Block - 100)], disk.GetAllocatedExtents(Block + 100, Block - 100));
        Assert.Equal([new DiskExtent((2 * Block) + 1, 10)], disk.GetAllocatedExtents((2 * Block) + 1, 10));
        Assert.Empty(disk.GetAllocatedExtents(3 * Block, 7 * Block));
        Assert.Equal((2 * Block) + 1536, disk.AllocatedBytes);
    }

    [Fact]
    public void ReadOnlyDisk_RefusesWrites_AndFixedReportsItsWholeSize()
    {
        using var dir = new TempDirectory();
        string path = dir.File("fixed.vhd");
        using (VirtualDisk disk = VirtualDisk.Create(path, Options(DiskType.Fixed, Size)))
        {
            Assert.Equal(Size, disk.AllocatedBytes);
            Assert.Equal(4096, disk.BlockSize);
            disk.Write(5000, [1]);
        }

        using VirtualDisk ro = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.True(ro.IsReadOnly);
        Assert.Throws<NotSupportedException>(() => ro.Write(0, [1]));
        Assert.Equal(DiskType.Fixed, ro.DiskType);
        Assert.Contains(ro.GetAllocatedExtents(0, Size), e => e.Offset <= 5000 && e.End > 5000);
    }
}
