using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

public sealed class VhdxDiskTests
{
    private const int MiB = VhdxTestSupport.MiB;

    [Fact]
    public void Defaults_follow_hyper_v()
    {
        using var dir = new TempDirectory();
        using var disk = (VhdxDisk)VirtualDisk.Create(dir.File("d.vhdx"), new DiskCreateOptions { Format = DiskFormat.Vhdx, VirtualSize = 100 * MiB });
        Assert.Equal(DiskType.Dynamic, disk.DiskType);
        Assert.Equal(32 * MiB, disk.BlockSize);
        Assert.Equal(512, disk.LogicalSectorSize);
        Assert.Equal(4096, disk.PhysicalSectorSize);
        Assert.Equal((ulong)MiB, disk.CurrentHeader.LogOffset);
        Assert.Equal((uint)MiB, disk.CurrentHeader.LogLength);
        Assert.Equal(0, disk.AllocatedBytes);
        Assert.Null(disk.Parent);
        Assert.False(disk.IsReadOnly);
        Assert.True(new FileInfo(dir.File("d.vhdx")).Length <= 5 * MiB, "a new dynamic disk is small");
    }

    [Fact]
    public void Fixed_disk_is_fully_allocated_and_sparse()
    {
        using var dir = new TempDirectory();
        string path = dir.File("f.vhdx");
        using VhdxDisk disk = VhdxTestSupport.Create(path, DiskType.Fixed, (100 * MiB) + 512, 32 * MiB);
        Assert.Equal((100 * MiB) + 512, disk.VirtualSize);
        Assert.Equal(disk.VirtualSize, disk.AllocatedBytes);
        Assert.Equal([new DiskExtent(0, disk.VirtualSize)], disk.GetAllocatedExtents(0, disk.VirtualSize).ToArray());
        Assert.True(new FileInfo(path).Length >= 4 * 32 * MiB);
    }

    [Fact]
    public void Round_up_to_mib_and_4096_byte_sectors()
    {
        using var dir = new TempDirectory();
        using VhdxDisk disk = (VhdxDisk)VirtualDisk.Create(dir.File("r.vhdx"), new DiskCreateOptions
        {
            Format = DiskFormat.Vhdx,
            VirtualSize = (3 * MiB) + 4096,
            RoundUpToMiB = true,
            LogicalSectorSize = 4096,
            PhysicalSectorSize = 512,
        });
        Assert.Equal(4 * MiB, disk.VirtualSize);
        Assert.Equal(4096, disk.LogicalSectorSize);
        Assert.Equal(512, disk.PhysicalSectorSize);
    }

    [Theory]
    [InlineData(0, null, 512)]
    [InlineData(1000, null, 512)]
    [InlineData(6144, null, 4096)]
    [InlineData(65L << 40, null, 512)]
    [InlineData(MiB, 3 * MiB, 512)]
    [InlineData(MiB, 512 * 1024, 512)]
    [InlineData(MiB, 512 * MiB, 512)]
    [InlineData(MiB, null, 1024)]
    public void Invalid_create_options_are_refused_and_leave_no_file(long size, int? blockSize, int sectorSize)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.vhdx");
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(path, new DiskCreateOptions
        {
            Format = DiskFormat.Vhdx,
            VirtualSize = size,
            BlockSize = blockSize,
            LogicalSectorSize = sectorSize,
        }));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Create_never_overwrites()
    {
        using var dir = new TempDirectory();
        string path = dir.File("exists.vhdx");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<IOException>(() => VhdxTestSupport.Create(path, DiskType.Dynamic, MiB));
        Assert.Equal(3, new FileInfo(path).Length);
    }

    [Fact]
    public void Dynamic_extents_allocated_bytes_and_known_zero()
    {
        using var dir = new TempDirectory();
        using VhdxDisk disk = VhdxTestSupport.Create(dir.File("e.vhdx"), DiskType.Dynamic, (8 * MiB) - 512);
        disk.Write(MiB + 100, new byte[] { 1 });
        disk.Write((2 * MiB) - 1, new byte[] { 1, 2 });
        disk.Write((7 * MiB) + 5, new byte[] { 3 });
        Assert.Equal(
            [new DiskExtent(MiB, 2 * MiB), new DiskExtent(7 * MiB, MiB - 512)],
            disk.GetAllocatedExtents(0, disk.VirtualSize).ToArray());
        Assert.Equal([new DiskExtent((2 * MiB) + 7, 9)], disk.GetAllocatedExtents((2 * MiB) + 7, 9).ToArray());
        Assert.Equal((3 * MiB) - 512, disk.AllocatedBytes);
        Assert.True(disk.IsKnownZero(3 * MiB, 4 * MiB));
        Assert.False(disk.IsKnownZero((3 * MiB) - 1, 2));
        Assert.Empty(disk.GetAllocatedExtents(0, MiB));
    }

    [Fact]
    public void Zeros_written_where_the_disk_reads_zeros_allocate_nothing()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("p.vhdx");
        using (VhdxDisk disk = VhdxTestSupport.Create(parent, DiskType.Dynamic, 4 * MiB))
        {
            disk.Write(MiB / 2, new byte[3 * MiB]);
            Assert.Equal(0, disk.AllocatedBytes);
            disk.Write(0, new byte[] { 0, 9 });
            Assert.Equal(MiB, disk.AllocatedBytes);
            disk.Write(3 * MiB, new byte[] { 7 });
        }

        // In a differencing disk zeros hide the parent's data, so they must be stored.
        using VhdxDisk child = VhdxTestSupport.Create(dir.File("c.vhdx"), DiskType.Differencing, 0, MiB, parent: parent);
        child.Write(3 * MiB, new byte[1]);
        Assert.Equal(MiB, child.AllocatedBytes);
        byte[] one = new byte[1];
        child.Read(3 * MiB, one);
        Assert.Equal(0, one[0]);
    }

    [Fact]
    public void Read_only_disk_refuses_writes_and_leaves_the_file_alone()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ro.vhdx");
        using (VhdxTestSupport.Create(path, DiskType.Dynamic, 2 * MiB))
        {
        }

        byte[] before = File.ReadAllBytes(path);
        using (VhdxDisk disk = VhdxTestSupport.Open(path, readOnly: true))
        {
            Assert.True(disk.IsReadOnly);
            Assert.Throws<NotSupportedException>(() => disk.Write(0, new byte[1]));
            disk.Flush();
        }

        Assert.True(before.AsSpan().SequenceEqual(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Reads_and_writes_of_any_offset_and_length()
    {
        using var dir = new TempDirectory();
        using VhdxDisk disk = VhdxTestSupport.Create(dir.File("any.vhdx"), DiskType.Dynamic, 3 * MiB);
        byte[] model = new byte[3 * MiB];
        byte[] whole = new byte[3 * MiB];
        new Random(11).NextBytes(whole);
        disk.Write(0, whole);
        whole.CopyTo(model, 0);
        foreach ((int offset, int length) in new[] { (0, 1), (511, 2), (MiB - 1, 2), (MiB - 3, MiB + 6), ((3 * MiB) - 1, 1), (12345, 0) })
        {
            byte[] read = new byte[length];
            disk.Read(offset, read);
            Assert.True(model.AsSpan(offset, length).SequenceEqual(read));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read((3 * MiB) - 1, new byte[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(-1, new byte[1]));
    }

    [Theory]
    [InlineData(DiskType.Dynamic)]
    [InlineData(DiskType.Differencing)]
    public async Task Concurrent_writers_of_disjoint_ranges(DiskType type)
    {
        using var dir = new TempDirectory();
        const int Size = 16 * MiB;
        string? parent = null;
        byte[] model = new byte[Size];
        if (type == DiskType.Differencing)
        {
            parent = dir.File("parent.vhdx");
            using VhdxDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, Size);
            VhdxTestSupport.RandomWrites(p, model, new Random(12), 20, 500_000);
        }

        string path = dir.File("c.vhdx");
        using (VhdxDisk disk = VhdxTestSupport.Create(path, type, type == DiskType.Differencing ? 0 : Size, MiB, parent: parent))
        {
            // Each task owns interleaved 48 KiB stripes, so tasks share blocks, bitmap sectors and BAT sectors.
            const int Stripe = 48 * 1024;
            const int Tasks = 8;
            await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(() =>
            {
                var random = new Random(t);
                for (long stripe = t; (stripe + 1) * Stripe <= Size; stripe += Tasks)
                {
                    int start = random.Next(Stripe / 2);
                    int length = random.Next(1, Stripe - start);
                    byte[] data = new byte[length];
                    random.NextBytes(data);
                    disk.Write((stripe * Stripe) + start, data);
                    lock (model)
                    {
                        data.CopyTo(model, (stripe * Stripe) + start);
                    }

                    byte[] check = new byte[length];
                    disk.Read((stripe * Stripe) + start, check);
                    Assert.True(data.AsSpan().SequenceEqual(check));
                }
            })));

            DiskAssert.ContentEquals(model, disk);
        }

        using VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        DiskAssert.ContentEquals(model, reopened);
    }

    [Fact]
    public void Disposed_disk_refuses_io()
    {
        using var dir = new TempDirectory();
        VhdxDisk disk = VhdxTestSupport.Create(dir.File("x.vhdx"), DiskType.Dynamic, MiB);
        disk.Dispose();
        disk.Dispose();
        Assert.Throws<ObjectDisposedException>(() => disk.Read(0, new byte[1]));
    }
}
