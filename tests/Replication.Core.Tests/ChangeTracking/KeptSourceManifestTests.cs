using FsCheck;
using FsCheck.Xunit;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// A source manifest kept current by change tracking (<see cref="SyncOptions.SourceTrackingDirectory"/>): resyncs of a
/// disk written only through its tracker refresh the kept manifest from the tracker's logs and still make the target
/// equal to the source; anything the tracker did not see (a write outside it, a tracker still running) is never trusted.
/// </summary>
public sealed class KeptSourceManifestTests : IDisposable
{
    private static readonly int[] CoarseSizes = [4096, 16384, 65536];
    private readonly TempDirectory _dir = new();

    [Property(MaxTest = 12)]
    public void Resyncs_of_a_tracked_source_with_the_kept_manifest_make_the_target_equal(PositiveInt seed)
    {
        var random = new Random(seed.Get);
        int coarse = CoarseSizes[random.Next(CoarseSizes.Length)];
        var manifest = new ManifestOptions { CoarseBlockSize = coarse, FineBlockSize = 512 << random.Next(4), MaxDegreeOfParallelism = random.Next(1, 3) };
        long size = random.Next(8, 512) * 4096L;
        using var dir = new TempDirectory();
        byte[] content = DiffModel.Content(random, size);
        string source = SyncDisks.Create(dir, "source", DiskFormat.Raw, content);
        string target = SyncDisks.Create(dir, "target", DiskFormat.Raw, DiffModel.Changed(random, content));
        string logs = dir.File("logs");
        string context = $"seed {seed.Get}: {size} bytes, blocks {coarse}/{manifest.FineBlockSize}";

        for (int round = 0; round < 4; round++)
        {
            WriteThroughTracker(source, logs, random, size);
            SyncResult result = Sync(source, target, logs, manifest, dir);
            Assert.True(SyncDisks.ReadAll(source).AsSpan().SequenceEqual(SyncDisks.ReadAll(target)), $"{context}, round {round}: the target differs from the source");
            if (round == 0)
            {
                Assert.False(result.SourceManifestRefreshed, context);
            }
            else
            {
                Assert.True(result.SourceManifestRefreshed, $"{context}, round {round}: {result.SourceManifestRejection}");
                Assert.Null(result.SourceManifestRejection);
            }

            // The kept manifest describes the source exactly: a fresh one of the source differs from it nowhere.
            using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
            using ManifestBuildResult fresh = new ManifestBuilder().BuildAsync(disk, dir.File("fresh.manifest"), manifest).GetAwaiter().GetResult();
            using BlockManifest kept = BlockManifest.Open(Path.Combine(logs, KeptSourceManifest.ManifestName));
            Assert.Equal(0, BlockDiff.Compare(fresh.Manifest, kept).ChangedBytes);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_write_outside_the_tracker_invalidates_the_kept_manifest(bool trackerOpenedAfter)
    {
        const long size = 2 << 20;
        var random = new Random(7);
        var manifest = new ManifestOptions { CoarseBlockSize = 65536, FineBlockSize = 4096 };
        byte[] content = DiffModel.Content(random, size);
        string source = SyncDisks.Create(_dir, "source", DiskFormat.Raw, content);
        string target = SyncDisks.Create(_dir, "target", DiskFormat.Raw, content);
        string logs = _dir.File("logs");
        WriteThroughTracker(source, logs, random, size);
        Sync(source, target, logs, manifest, _dir);

        // Another program writes the source, and sets its modification time back.
        DateTime mtime = File.GetLastWriteTimeUtc(source);
        using (VirtualDisk other = VirtualDisk.Open(source))
        {
            other.Write(1 << 20, TrackingTestSupport.Random(3, 4096));
            other.Flush();
        }

        File.SetLastWriteTimeUtc(source, mtime);
        if (trackerOpenedAfter)
        {
            // The tracker itself then writes elsewhere: its logs never hold the other program's write.
            await using TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(source), logs, TrackingTestSupport.Options());
            await tracked.WriteAsync(0, TrackingTestSupport.Random(4, 4096));
            await tracked.FlushAsync();
        }

        SyncResult result = Sync(source, target, logs, manifest, _dir);
        Assert.False(result.SourceManifestRefreshed);
        Assert.NotNull(result.SourceManifestRejection);
        Assert.True(SyncDisks.ReadAll(source).AsSpan().SequenceEqual(SyncDisks.ReadAll(target)), "the target differs from the source");
    }

    [Fact]
    public async Task A_resync_while_the_tracker_writes_the_source_is_refused()
    {
        const long size = 1 << 20;
        byte[] content = DiffModel.Content(new Random(3), size);
        string source = SyncDisks.Create(_dir, "source", DiskFormat.Raw, content);
        string target = SyncDisks.Create(_dir, "target", DiskFormat.Raw, content);
        string logs = _dir.File("logs");
        await using TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(source), logs, TrackingTestSupport.Options());
        ReplicationException ex = Assert.Throws<ReplicationException>(() => Sync(source, target, logs, ManifestOptions.Default, _dir));
        Assert.Equal(ReplicationErrorCode.Conflict, ex.Code);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Opens a tracker on the raw file, writes a few random (also unaligned) ranges and zeros through it, closes it cleanly.</summary>
    private static void WriteThroughTracker(string path, string logs, Random random, long size)
    {
        using TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(path), logs, TrackingTestSupport.Options(regionSize: 65536));
        int writes = random.Next(0, 6);
        for (int i = 0; i < writes; i++)
        {
            int length = random.Next(1, 20000);
            long offset = random.NextInt64(0, size - length);
            if (random.Next(4) == 0)
            {
                tracked.ZeroAsync(offset & ~511L, (length + 511) & ~511L).AsTask().GetAwaiter().GetResult();
            }
            else
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                tracked.Write(offset, data);
            }
        }

        tracked.Flush();
    }

    private static SyncResult Sync(string source, string target, string logs, ManifestOptions manifest, TempDirectory dir)
    {
        using VirtualDisk from = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk to = VirtualDisk.Open(target);
        var options = new SyncOptions { Manifest = manifest, SourceTrackingDirectory = logs, CheckpointPath = dir.File("sync.checkpoint") };
        return new DiskSynchronizer().ResyncAsync(from, to, new ManifestFile(dir.File("target.manifest"), to), options).GetAwaiter().GetResult();
    }
}
