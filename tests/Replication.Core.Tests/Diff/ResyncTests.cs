using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Diff;

public sealed class ResyncTests : IDisposable
{
    private const long Size = 12L << 20;
    private static readonly ManifestOptions Blocks = new() { CoarseBlockSize = 1 << 20, FineBlockSize = 4096 };

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A source and a target that differ by scattered 4 KiB writes, a range zero on the source only, and 2 MiB of other data.</summary>
    public static (byte[] Source, byte[] Target) Scenario(int seed)
    {
        var random = new Random(seed);
        byte[] source = new byte[Size];
        random.NextBytes(source.AsSpan(0, 9 << 20));
        byte[] target = (byte[])source.Clone();
        for (int i = 0; i < 20; i++)
        {
            random.NextBytes(target.AsSpan(random.Next(0, (9 << 20) / 4096) * 4096, 4096));
        }

        source.AsSpan(2 << 20, 1 << 20).Clear();
        random.NextBytes(target.AsSpan(5 << 20, 2 << 20));
        return (source, target);
    }

    [Theory]
    [MemberData(nameof(SyncDisks.Pairs), MemberType = typeof(SyncDisks))]
    public async Task Sync_makes_the_target_equal_and_a_second_sync_sends_nothing(DiskFormat sourceFormat, DiskFormat targetFormat)
    {
        (byte[] source, byte[] target) = Scenario(1);
        string sourcePath = SyncDisks.Create(_dir, "source", sourceFormat, source);
        string targetPath = SyncDisks.Create(_dir, "target", targetFormat, target);
        List<DiskExtent> expected = DiffModel.ExpectedRanges(source, target, 4096);
        SyncOptions options = Options();

        SyncResult first = await SyncAsync(sourcePath, targetPath, options);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
        Assert.Equal(expected.Sum(r => r.Length), first.BytesDiffering);
        Assert.Equal(1L << 20, first.ZeroBytes);
        Assert.Equal(first.BytesDiffering - first.ZeroBytes, first.DataBytesSent);
        Assert.Equal(first.BytesDiffering, first.BytesWritten);
        Assert.Equal(Size, first.BytesCompared);
        Assert.Equal(TargetManifestOrigin.Rebuilt, first.TargetManifest);
        Assert.True(first.ManifestBytes < 100_000, $"{first.ManifestBytes} manifest bytes");
        Assert.True(first.BytesSent < first.BytesDiffering, "manifests and data together cost less than the differing bytes");
        Assert.True(File.Exists(ManifestPath));
        Assert.False(File.Exists(options.CheckpointPath));
        Assert.False(File.Exists(options.CheckpointPath + ".source"));

        SyncResult second = await SyncAsync(sourcePath, targetPath, options);
        Assert.Equal(TargetManifestOrigin.Verified, second.TargetManifest);
        Assert.Equal(0, second.BytesDiffering);
        Assert.Equal(0, second.DataBytesSent);
        Assert.Equal(0, second.BytesWritten);
        Assert.Equal(12 * BlockDiff.CoarseHashWireBytes, second.ManifestBytes);
    }

    [Fact]
    public async Task Dry_run_reports_the_cost_and_writes_nothing()
    {
        (byte[] source, byte[] target) = Scenario(2);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        string[] filesBefore = Directory.GetFiles(_dir.Path);
        DateTime targetTime = File.GetLastWriteTimeUtc(targetPath);

        SyncResult dry = await SyncAsync(sourcePath, targetPath, Options(dryRun: true), readOnlyTarget: true);
        Assert.True(dry.IsDryRun);
        Assert.Equal(0, dry.BytesWritten);
        Assert.Equal(target, SyncDisks.ReadAll(targetPath));
        Assert.Equal(targetTime, File.GetLastWriteTimeUtc(targetPath));
        Assert.Equal(filesBefore, Directory.GetFiles(_dir.Path));

        SyncResult real = await SyncAsync(sourcePath, targetPath, Options());
        Assert.Equal(real.BytesDiffering, dry.BytesDiffering);
        Assert.Equal(real.DataBytesSent, dry.DataBytesSent);
        Assert.Equal(real.ManifestBytes, dry.ManifestBytes);
        Assert.Equal(real.BytesWritten, dry.BytesDiffering);
    }

    [Fact]
    public async Task Ranges_zero_on_the_source_go_through_the_targets_zeroing_and_send_no_data()
    {
        (byte[] source, byte[] target) = Scenario(3);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        using VirtualDisk from = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess);
        using var to = new ZeroingDisk(VirtualDisk.Open(targetPath));
        SyncResult result = await new DiskSynchronizer().ResyncAsync(from, to, new ManifestFile(ManifestPath, to), Options());
        Assert.Equal([new DiskExtent(2 << 20, 1 << 20)], to.Zeroed);
        Assert.Equal(result.DataBytesSent, to.BytesWritten);
        Assert.Equal(result.BytesDiffering - (1 << 20), result.DataBytesSent);
        to.Dispose();
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Fact]
    public async Task A_target_changed_since_its_manifest_is_rebuilt_not_trusted()
    {
        (byte[] source, byte[] target) = Scenario(4);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        await SyncAsync(sourcePath, targetPath, Options());
        using (VirtualDisk t = VirtualDisk.Open(targetPath))
        {
            t.Write(7_000_000, new byte[] { 1, 2, 3 });
        }

        File.SetLastWriteTimeUtc(targetPath, File.GetLastWriteTimeUtc(targetPath).AddSeconds(2));
        SyncResult result = await SyncAsync(sourcePath, targetPath, Options());
        Assert.Equal(TargetManifestOrigin.Rebuilt, result.TargetManifest);
        Assert.Contains("stamp", result.TargetManifestRejection, StringComparison.Ordinal);
        Assert.Equal(4096, result.BytesDiffering);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Fact]
    public async Task A_target_written_with_its_mtime_and_size_restored_is_caught_by_its_change_time()
    {
        (byte[] source, byte[] target) = Scenario(5);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        await SyncAsync(sourcePath, targetPath, Options());
        DateTime stamp = File.GetLastWriteTimeUtc(targetPath);
        using (VirtualDisk t = VirtualDisk.Open(targetPath))
        {
            t.Write(3_000_000, new byte[] { 9 });
        }

        File.SetLastWriteTimeUtc(targetPath, stamp);

        // Size and modification time are as the manifest recorded them; the change time, which no tool can set back, is not.
        SyncResult result = await SyncAsync(sourcePath, targetPath, Options());
        Assert.Equal(TargetManifestOrigin.Rebuilt, result.TargetManifest);
        Assert.Contains("stamp differs", result.TargetManifestRejection, StringComparison.Ordinal);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Fact]
    public async Task A_target_changed_while_its_stamp_is_not_checked_is_caught_by_the_sample()
    {
        (byte[] source, byte[] target) = Scenario(5);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        await SyncAsync(sourcePath, targetPath, Options());
        using (VirtualDisk t = VirtualDisk.Open(targetPath))
        {
            t.Write(3_000_000, new byte[] { 9 });
        }

        // 12 blocks and at least 16 sampled: every block is checked, so the change cannot hide.
        SyncResult result = await SyncAsync(sourcePath, targetPath, Options(policy: TargetManifestPolicy.VerifySample));
        Assert.Equal(TargetManifestOrigin.Rebuilt, result.TargetManifest);
        Assert.Contains("block 2 of the target does not match", result.TargetManifestRejection, StringComparison.Ordinal);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Theory]
    [InlineData("corrupt")]
    [InlineData("other block size")]
    [InlineData("truncated")]
    [InlineData("other disk size")]
    public async Task A_bad_stored_target_manifest_is_rejected_and_rebuilt(string damage)
    {
        (byte[] source, byte[] target) = Scenario(6);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        SyncOptions options = Options();
        string described = damage == "other disk size" ? SyncDisks.Create(_dir, "smaller", DiskFormat.Raw, target.AsSpan(0, 3 << 20)) : targetPath;
        using (VirtualDisk t = VirtualDisk.Open(described, DiskOpenOptions.ReadOnlyAccess))
        {
            ManifestOptions blocks = damage == "other block size" ? new ManifestOptions { CoarseBlockSize = 256 * 1024, FineBlockSize = 4096 } : Blocks;
            (await new ManifestBuilder().BuildAsync(t, ManifestPath, blocks)).Dispose();
        }

        byte[] manifest = File.ReadAllBytes(ManifestPath);
        if (damage == "corrupt")
        {
            manifest[^100] ^= 4;
        }

        File.WriteAllBytes(ManifestPath, damage == "truncated" ? manifest[..^1] : manifest);
        SyncResult result = await SyncAsync(sourcePath, targetPath, options);
        Assert.Equal(TargetManifestOrigin.Rebuilt, result.TargetManifest);
        Assert.Contains(ManifestPath, result.TargetManifestRejection, StringComparison.Ordinal);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
        using BlockManifest stored = BlockManifest.Open(ManifestPath);
        Assert.Equal(Blocks.CoarseBlockSize, stored.CoarseBlockSize);
    }

    [Fact]
    public async Task Progress_goes_through_the_phases_in_order_with_counts_that_only_grow()
    {
        (byte[] source, byte[] target) = Scenario(7);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        var reports = new List<SyncProgress>();
        SyncResult result = await SyncAsync(sourcePath, targetPath, Options(interval: 1 << 20), progress: new SyncProgress<SyncProgress>(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        }));

        Assert.Equal(
            [SyncPhase.HashingSource, SyncPhase.HashingTarget, SyncPhase.Comparing, SyncPhase.Copying, SyncPhase.Finalizing, SyncPhase.Completed],
            reports.Select(r => r.Phase).Distinct());
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.Second.Phase >= p.First.Phase && p.Second.BytesCopied >= p.First.BytesCopied && p.Second.BytesHashed >= p.First.BytesHashed));
        SyncProgress last = reports[^1];
        Assert.Equal(result.BytesWritten, last.BytesCopied);
        Assert.Equal(result.BytesDiffering, last.BytesDiffering);
        Assert.Equal(result.BytesHashed, last.BytesHashed);
        Assert.Equal(Size, last.BytesCompared);
        Assert.Equal(TimeSpan.Zero, last.EstimatedRemaining);
        Assert.Contains(reports, r => r.EstimatedRemaining > TimeSpan.Zero);
        Assert.Contains(reports, r => r.IsCheckpoint && r.Phase == SyncPhase.Copying && r.DurableDataBytesSent > 0);
        Assert.Contains(reports, r => r.IsCheckpoint && r.Phase == SyncPhase.HashingSource && r.DurableBytesHashed > 0);
    }

    [Fact]
    public async Task A_sync_stopped_mid_copy_resumes_from_its_checkpoint_without_hashing_or_sending_again()
    {
        (byte[] source, byte[] target) = Scenario(8);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        SyncOptions options = Options(interval: 512 * 1024, copyConcurrency: 1); // pieces complete in order, so a checkpoint comes before the end
        using var cts = new CancellationTokenSource();
        long durableSent = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SyncAsync(sourcePath, targetPath, options, cts.Token, new SyncProgress<SyncProgress>(p =>
        {
            if (p.IsCheckpoint && p.Phase == SyncPhase.Copying)
            {
                durableSent = p.DurableDataBytesSent;
                cts.Cancel();
            }
        })));
        Assert.True(durableSent > 0);
        Assert.True(File.Exists(options.CheckpointPath));

        SyncResult rest = await SyncAsync(sourcePath, targetPath, options);
        long total = DiffModel.ExpectedRanges(source, target, 4096).Sum(r => r.Length) - DiffModel.ZeroBytes(source, target, 4096);
        Assert.True(rest.Resumed);
        Assert.Equal(TargetManifestOrigin.Checkpoint, rest.TargetManifest);
        Assert.Equal(0, rest.BytesHashed);
        Assert.Equal(0, rest.ManifestBytes);
        Assert.True(rest.DataBytesSent <= total - durableSent, $"resumed run sent {rest.DataBytesSent}; {total} in all, {durableSent} durable before the stop");
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
        Assert.False(File.Exists(options.CheckpointPath));
    }

    [Fact]
    public async Task A_sync_stopped_while_hashing_the_source_resumes_without_hashing_again_what_was_saved()
    {
        (byte[] source, byte[] target) = Scenario(9);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        SyncOptions options = Options(interval: 1 << 20, parallelism: 1);
        using var cts = new CancellationTokenSource();
        long durable = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SyncAsync(sourcePath, targetPath, options, cts.Token, new SyncProgress<SyncProgress>(p =>
        {
            if (p.IsCheckpoint && p.DurableBytesHashed >= 4 << 20)
            {
                durable = p.DurableBytesHashed;
                cts.Cancel();
            }
        })));

        SyncResult reference;
        using (var other = new TempDirectory())
        {
            string s = SyncDisks.Create(other, "source", DiskFormat.Raw, source);
            string t = SyncDisks.Create(other, "target", DiskFormat.Raw, target);
            reference = await SyncAsync(s, t, new SyncOptions { Manifest = Blocks, CheckpointPath = other.File("sync") }, manifestPath: other.File("t.manifest"));
        }

        SyncResult rest = await SyncAsync(sourcePath, targetPath, options);
        Assert.True(durable >= 4 << 20);
        Assert.True(rest.BytesHashed <= reference.BytesHashed - durable, $"resumed run hashed {rest.BytesHashed}; {reference.BytesHashed} in all, {durable} saved");
        Assert.Equal(reference.DataBytesSent, rest.DataBytesSent);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Fact]
    public async Task A_checkpoint_from_before_the_source_changed_is_discarded_and_the_target_rehashed()
    {
        (byte[] source, byte[] target) = Scenario(10);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        SyncOptions options = Options(interval: 512 * 1024, copyConcurrency: 1); // pieces complete in order, so a checkpoint comes before the end
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SyncAsync(sourcePath, targetPath, options, cts.Token, new SyncProgress<SyncProgress>(p =>
        {
            if (p.IsCheckpoint && p.Phase == SyncPhase.Copying)
            {
                cts.Cancel();
            }
        })));

        using (VirtualDisk s = VirtualDisk.Open(sourcePath))
        {
            s.Write(11L << 20, new byte[] { 5, 6, 7 });
            source[11L << 20] = 5;
            source[(11L << 20) + 1] = 6;
            source[(11L << 20) + 2] = 7;
        }

        File.SetLastWriteTimeUtc(sourcePath, File.GetLastWriteTimeUtc(sourcePath).AddSeconds(2));
        SyncResult rest = await SyncAsync(sourcePath, targetPath, options);
        Assert.False(rest.Resumed);
        Assert.Equal(TargetManifestOrigin.Rebuilt, rest.TargetManifest);
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
    }

    [Theory]
    [InlineData("garbage", "copy checkpoint.Magic")]
    [InlineData("flipped", "copy checkpoint.Checksum")]
    [InlineData("short", "copy checkpoint.PayloadLength")]
    public async Task A_corrupt_checkpoint_is_rejected_with_a_typed_error(string damage, string field)
    {
        (byte[] source, byte[] target) = Scenario(11);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(_dir, "target", DiskFormat.Raw, target);
        SyncOptions options = Options();
        new CopyCheckpoint { Kind = CopyKind.Resync, VirtualSize = Size, CoarseBlockSize = 1 << 20, FineBlockSize = 4096, SourceManifestChecksum = 1, TargetManifestChecksum = 2 }.Save(options.CheckpointPath!);
        byte[] bytes = File.ReadAllBytes(options.CheckpointPath!);
        switch (damage)
        {
            case "garbage": bytes.AsSpan().Fill(0x41); break;
            case "flipped": bytes[81] ^= 1; break;
            default: bytes = bytes[..100]; break;
        }

        File.WriteAllBytes(options.CheckpointPath!, bytes);
        InvalidRecordException ex = await Assert.ThrowsAsync<InvalidRecordException>(() => SyncAsync(sourcePath, targetPath, options));
        Assert.Equal(field, ex.Field);
        Assert.Equal(options.CheckpointPath, ex.FilePath);
        Assert.Equal(target, SyncDisks.ReadAll(targetPath));
    }

    [Fact]
    public async Task Disks_of_different_sizes_or_a_read_only_target_are_refused()
    {
        string a = SyncDisks.Create(_dir, "a", DiskFormat.Raw, new byte[1 << 20]);
        string b = SyncDisks.Create(_dir, "b", DiskFormat.Raw, new byte[2 << 20]);
        string c = SyncDisks.Create(_dir, "c", DiskFormat.Raw, new byte[1 << 20]);
        using VirtualDisk da = VirtualDisk.Open(a, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk db = VirtualDisk.Open(b);
        using VirtualDisk dc = VirtualDisk.Open(c, DiskOpenOptions.ReadOnlyAccess);
        var sync = new DiskSynchronizer();
        ArgumentException size = await Assert.ThrowsAsync<ArgumentException>(() => sync.ResyncAsync(da, db));
        Assert.Contains("virtual size", size.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => sync.ResyncAsync(da, dc));
        await Assert.ThrowsAsync<ArgumentException>(() => sync.ResyncAsync(da, da));
        Assert.Contains(new SyncOptions { SampleFraction = 0 }.Validate(), f => f.StartsWith("SampleFraction", StringComparison.Ordinal));
        ArgumentException interval = await Assert.ThrowsAsync<ArgumentException>(() => sync.ResyncAsync(db, db, options: new SyncOptions { CheckpointBytes = 0 }));
        Assert.Contains("CheckpointBytes", interval.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1 << 20, 4096, true)]
    [InlineData(512, 512, true)]
    [InlineData(64 << 20, 512, true)]
    [InlineData(128 << 20, 4096, false)]
    [InlineData(1 << 20, 3000, false)]
    [InlineData(4096, 8192, false)]
    [InlineData(256, 256, false)]
    [InlineData(1000, 500, false)]
    public void Block_sizes_must_be_powers_of_two_from_512_with_the_fine_dividing_the_coarse(int coarse, int fine, bool valid)
    {
        IReadOnlyList<string> failures = new ManifestOptions { CoarseBlockSize = coarse, FineBlockSize = fine }.Validate();
        Assert.Equal(valid, failures.Count == 0);
    }

    private string ManifestPath => _dir.File("target.manifest");

    private SyncOptions Options(
        bool dryRun = false, long interval = SyncOptions.DefaultCheckpointBytes, int parallelism = 0, TargetManifestPolicy policy = TargetManifestPolicy.VerifyStampAndSample, int copyConcurrency = 8) => new()
    {
        Transfer = TransferOptions.Default with { MaxConcurrency = copyConcurrency },
        Manifest = Blocks with { MaxDegreeOfParallelism = parallelism },
        CheckpointPath = _dir.File("target.sync"),
        TargetManifestPolicy = policy,
        DryRun = dryRun,
        CheckpointBytes = interval,
        RandomSeed = 1,
    };

    private async Task<SyncResult> SyncAsync(
        string sourcePath,
        string targetPath,
        SyncOptions options,
        CancellationToken cancellationToken = default,
        IProgress<SyncProgress>? progress = null,
        bool readOnlyTarget = false,
        string? manifestPath = null)
    {
        using VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(targetPath, readOnlyTarget ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);
        var stored = new ManifestFile(manifestPath ?? ManifestPath, target, checkStamp: options.TargetManifestPolicy == TargetManifestPolicy.VerifyStampAndSample);
        return await new DiskSynchronizer().ResyncAsync(source, target, stored, options, progress, cancellationToken);
    }
}
