using System.IO.Hashing;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Diff;

public sealed class BlockManifestTests
{
    private const int Coarse = 64 * 1024;
    private const int Fine = 4096;

    [Theory]
    [MemberData(nameof(SyncDisks.Each), MemberType = typeof(SyncDisks))]
    public async Task Hashes_match_an_independent_computation_and_zero_blocks_hash_to_zero(DiskFormat format)
    {
        using var dir = new TempDirectory();
        long size = (3L << 20) + (5 * 512);
        byte[] content = DiskKinds.ScatteredContent(size, seed: 11);
        content.AsSpan(1_000_000, 3).Fill(7);
        string path = SyncDisks.Create(dir, "disk", format, content);
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(disk, dir.File("m"), new ManifestOptions { CoarseBlockSize = Coarse, FineBlockSize = Fine });
        BlockManifest manifest = built.Manifest;

        Assert.Equal(size, manifest.VirtualSize);
        Assert.Equal((size + Coarse - 1) / Coarse, manifest.CoarseBlockCount);
        Assert.Equal((size + Fine - 1) / Fine, manifest.FineBlockCount);
        UInt128[] fines = new UInt128[Coarse / Fine];
        int zeroBlocks = 0;
        long hashed = 0;
        for (int block = 0; block < manifest.CoarseBlockCount; block++)
        {
            ReadOnlySpan<byte> data = content.AsSpan(block * Coarse, (int)Math.Min(Coarse, size - (block * (long)Coarse)));
            bool zero = data.IndexOfAnyExcept((byte)0) < 0;
            zeroBlocks += zero ? 1 : 0;
            hashed += zero ? 0 : data.Length;
            Assert.Equal(DiffModel.BlockHash(data, Fine), manifest.GetBlockHash(block));
            Assert.Equal(zero, manifest.IsZeroBlock(block));
            int count = manifest.ReadFineHashes(block, fines);
            Assert.Equal((data.Length + Fine - 1) / Fine, count);
            for (int f = 0; f < count; f++)
            {
                ReadOnlySpan<byte> piece = data.Slice(f * Fine, Math.Min(Fine, data.Length - (f * Fine)));
                Assert.Equal(piece.IndexOfAnyExcept((byte)0) < 0 ? UInt128.Zero : XxHash128.HashToUInt128(piece), fines[f]);
                Assert.Equal(DiffModel.FineHash(piece), fines[f]);
            }
        }

        Assert.Equal(zeroBlocks, manifest.ZeroBlockCount);
        Assert.True(zeroBlocks > 0 && zeroBlocks < manifest.CoarseBlockCount, $"{zeroBlocks} zero blocks: the content should mix both");
        Assert.Equal(hashed, built.BytesHashed);
        Assert.True(manifest.IsCurrentFor(disk));
    }

    /// <summary>Every format with coarse blocks smaller than, equal to and larger than the builder's read window and chunk.</summary>
    public static TheoryData<DiskFormat, int, int> FormatsAndBlockSizes()
    {
        var data = new TheoryData<DiskFormat, int, int>();
        foreach (DiskFormat format in SyncDisks.Formats)
        {
            data.Add(format, 4096, 512);
            data.Add(format, 1 << 20, 4096);
            data.Add(format, 4 << 20, 65536);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FormatsAndBlockSizes))]
    public async Task Every_block_size_hashes_as_the_independent_computation_and_reads_only_allocated_bytes(DiskFormat format, int coarse, int fine)
    {
        using var dir = new TempDirectory();
        // Several chunks and a partial last block; data scattered across read-window, block and chunk boundaries.
        long size = (9L << 20) + (3 * 512);
        byte[] content = DiskKinds.ScatteredContent(size, seed: 23);
        content.AsSpan((int)(4L << 20) - 700, 1400).Fill(9);
        content.AsSpan((int)size - 100, 100).Fill(5);
        string path = SyncDisks.Create(dir, "disk", format, content);
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        long allocated = disk.GetAllocatedExtents(0, size).Sum(e => e.Length);
        using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(disk, dir.File("m"), new ManifestOptions { CoarseBlockSize = coarse, FineBlockSize = fine });
        BlockManifest manifest = built.Manifest;

        UInt128[] fines = new UInt128[coarse / fine];
        long hashed = 0;
        for (int block = 0; block < manifest.CoarseBlockCount; block++)
        {
            ReadOnlySpan<byte> data = content.AsSpan((int)(block * (long)coarse), (int)Math.Min(coarse, size - (block * (long)coarse)));
            bool zero = data.IndexOfAnyExcept((byte)0) < 0;
            hashed += zero ? 0 : data.Length;
            Assert.Equal(DiffModel.BlockHash(data, fine), manifest.GetBlockHash(block));
            int count = manifest.ReadFineHashes(block, fines);
            Assert.Equal((data.Length + fine - 1) / fine, count);
            for (int f = 0; f < count; f++)
            {
                Assert.Equal(DiffModel.FineHash(data.Slice(f * fine, Math.Min(fine, data.Length - (f * fine)))), fines[f]);
            }
        }

        Assert.Equal(hashed, built.BytesHashed);
        Assert.Equal(allocated, built.BytesRead);
    }

    [Fact]
    public async Task Ranges_the_format_knows_are_zero_are_not_read_and_read_zeros_are_not_hashed()
    {
        using var dir = new TempDirectory();
        const long Size = 64L << 20;
        string path = dir.File("sparse.img");
        using (VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }))
        {
            byte[] data = new byte[1 << 20];
            new Random(1).NextBytes(data);
            disk.Write(10L << 20, data);
            disk.Write(30L << 20, new byte[1 << 20]);
        }

        using VirtualDisk sparse = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        long allocated = sparse.GetAllocatedExtents(0, Size).Sum(e => e.Length);
        using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(sparse, dir.File("m"));
        Assert.Equal(allocated, built.BytesRead);
        Assert.Equal(2L << 20, allocated);
        Assert.Equal(1L << 20, built.BytesHashed);
        Assert.Equal(63, built.Manifest.ZeroBlockCount);
        Assert.True(built.Manifest.IsZeroBlock(30));
        Assert.False(built.Manifest.IsZeroBlock(10));
    }

    [Fact]
    public async Task Zero_blocks_compare_equal_whatever_their_size_or_how_they_were_found()
    {
        using var dir = new TempDirectory();
        string hole = dir.File("hole.img");
        string written = dir.File("written.img");
        VirtualDisk.Create(hole, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 3 * 512 }).Dispose();
        using (VirtualDisk disk = VirtualDisk.Create(written, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 3 * 512 }))
        {
            disk.Write(0, new byte[3 * 512]);
        }

        using VirtualDisk a = VirtualDisk.Open(hole, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk b = VirtualDisk.Open(written, DiskOpenOptions.ReadOnlyAccess);
        using ManifestBuildResult ma = await new ManifestBuilder().BuildAsync(a, dir.File("a"), new ManifestOptions { CoarseBlockSize = 1 << 20, FineBlockSize = 512 });
        using ManifestBuildResult mb = await new ManifestBuilder().BuildAsync(b, dir.File("b"), new ManifestOptions { CoarseBlockSize = 1 << 20, FineBlockSize = 512 });
        Assert.Equal(UInt128.Zero, ma.Manifest.GetBlockHash(0));
        Assert.Equal(UInt128.Zero, mb.Manifest.GetBlockHash(0));
        Assert.Empty(BlockDiff.Compare(ma.Manifest, mb.Manifest).Ranges);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public async Task Any_parallelism_writes_the_same_file(int parallelism)
    {
        using var dir = new TempDirectory();
        byte[] content = DiskKinds.ScatteredContent(9L << 20, seed: 3);
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, content);
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        (await new ManifestBuilder().BuildAsync(disk, dir.File("serial"), new ManifestOptions { CoarseBlockSize = Coarse, FineBlockSize = 512, MaxDegreeOfParallelism = 1 })).Dispose();
        (await new ManifestBuilder().BuildAsync(disk, dir.File("parallel"), new ManifestOptions { CoarseBlockSize = Coarse, FineBlockSize = 512, MaxDegreeOfParallelism = parallelism })).Dispose();
        DiskAssert.FilesEqual(dir.File("serial"), dir.File("parallel"));
        Assert.Single(Directory.GetFiles(dir.Path, "serial*"));
    }

    [Fact]
    public async Task A_changed_disk_file_makes_the_manifest_no_longer_current()
    {
        using var dir = new TempDirectory();
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, new byte[1 << 20]);
        using (VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        using (ManifestBuildResult built = await new ManifestBuilder().BuildAsync(disk, dir.File("m")))
        {
            Assert.True(built.Manifest.IsCurrentFor(disk));
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            disk.Write(4096, new byte[] { 1 });
        }

        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));
        using VirtualDisk changed = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        using BlockManifest manifest = BlockManifest.Open(dir.File("m"));
        Assert.False(manifest.IsCurrentFor(changed));
    }

    [Fact]
    public async Task A_cancelled_build_leaves_nothing_and_keeps_the_old_manifest()
    {
        using var dir = new TempDirectory();
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, DiskKinds.ScatteredContent(16L << 20, seed: 9));
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        (await new ManifestBuilder().BuildAsync(disk, dir.File("m"))).Dispose();
        byte[] before = File.ReadAllBytes(dir.File("m"));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ManifestBuilder().BuildAsync(disk, dir.File("m"), cancellationToken: cts.Token));
        Assert.Equal(before, File.ReadAllBytes(dir.File("m")));
        Assert.Equal([dir.File("disk.img"), dir.File("m")], Directory.GetFiles(dir.Path).Order());
    }

    [Fact]
    public async Task An_interrupted_build_resumes_without_hashing_again_what_was_saved()
    {
        using var dir = new TempDirectory();
        byte[] content = new byte[24L << 20];
        new Random(5).NextBytes(content);
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, content);
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        var options = new ManifestOptions { CoarseBlockSize = 1 << 20, FineBlockSize = 4096, MaxDegreeOfParallelism = 1 };
        (await new ManifestBuilder().BuildAsync(disk, dir.File("reference"), options)).Dispose();

        using var cts = new CancellationTokenSource();
        long durable = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ManifestBuildRun.BuildAsync(
            disk, dir.File("m"), dir.File("m.partial"), options, resume: true, checkpointInterval: 4 << 20, null,
            (_, hashed) =>
            {
                durable = hashed;
                if (hashed >= 8 << 20)
                {
                    cts.Cancel();
                }
            },
            cts.Token));
        Assert.True(durable >= 8 << 20);
        Assert.True(File.Exists(dir.File("m.partial")));
        Assert.Throws<InvalidManifestException>(() => BlockManifest.Open(dir.File("m.partial")));

        using ManifestBuildResult resumed = await ManifestBuildRun.BuildAsync(
            disk, dir.File("m"), dir.File("m.partial"), options, resume: true, 4 << 20, null, null, CancellationToken.None);
        Assert.True(resumed.BytesHashed <= content.Length - durable, $"resumed build hashed {resumed.BytesHashed} of {content.Length}, {durable} were saved");
        Assert.False(File.Exists(dir.File("m.partial")));
        Assert.Equal(ManifestWithoutStamp(dir.File("reference")), ManifestWithoutStamp(dir.File("m")));
    }

    [Fact]
    public async Task A_partial_manifest_of_a_disk_that_changed_since_is_not_resumed()
    {
        using var dir = new TempDirectory();
        byte[] content = new byte[8L << 20];
        new Random(6).NextBytes(content);
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, content);
        var options = new ManifestOptions { CoarseBlockSize = 1 << 20, FineBlockSize = 4096, MaxDegreeOfParallelism = 1 };
        using (VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        {
            using var cts = new CancellationTokenSource();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ManifestBuildRun.BuildAsync(
                disk, dir.File("m"), dir.File("m.partial"), options, true, 2 << 20, null, (_, _) => cts.Cancel(), cts.Token));
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            disk.Write(0, new byte[] { 42 });
            content[0] = 42;
        }

        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));
        using VirtualDisk changed = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        using ManifestBuildResult rebuilt = await ManifestBuildRun.BuildAsync(changed, dir.File("m"), dir.File("m.partial"), options, true, 2 << 20, null, null, CancellationToken.None);
        Assert.Equal(content.Length, rebuilt.BytesHashed);
        Assert.Equal(DiffModel.BlockHash(content.AsSpan(0, 1 << 20), 4096), rebuilt.Manifest.GetBlockHash(0));
    }

    [Fact]
    public async Task Progress_reaches_the_whole_disk()
    {
        using var dir = new TempDirectory();
        string path = SyncDisks.Create(dir, "disk", DiskFormat.Raw, DiskKinds.ScatteredContent(5L << 20, seed: 2));
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        var reports = new List<ManifestProgress>();
        using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(disk, dir.File("m"), progress: new SyncProgress<ManifestProgress>(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        }));
        ManifestProgress last = reports[^1];
        Assert.Equal(disk.VirtualSize, last.BytesProcessed);
        Assert.Equal(disk.VirtualSize, last.TotalBytes);
        Assert.Equal(built.BytesRead, last.BytesRead);
        Assert.Equal(built.BytesHashed, last.BytesHashed);
    }

    /// <summary>The manifest file without its header's stamp and checksum: equal for equal content and geometry.</summary>
    private static byte[] ManifestWithoutStamp(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return [.. bytes[..ManifestHeader.StampOffset], .. bytes[ManifestHeader.TableChecksumOffset..ManifestHeader.ChecksumOffset], .. bytes[ManifestHeader.Size..]];
    }
}
