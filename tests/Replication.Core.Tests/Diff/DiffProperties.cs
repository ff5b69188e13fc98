using System.Numerics;
using FsCheck;
using FsCheck.Xunit;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Diff;

/// <summary>
/// Random pairs (random sizes and block sizes, scattered changes, zero regions on either side, any formats from
/// <see cref="SyncDisks.Formats"/>): the diff is exactly the differing fine blocks of the byte-array oracle, a sync makes
/// the target read equal to the source while sending exactly the differing non-zero fine blocks, and a second sync
/// sends no data.
/// </summary>
public sealed class DiffProperties
{
    private static readonly int[] CoarseSizes = [4096, 16384, 65536, 262144, 1 << 20];

    [Property(MaxTest = 40)]
    public void Diff_is_exactly_the_differing_fine_blocks_and_sync_converges_then_sends_nothing(PositiveInt seed)
    {
        var random = new Random(seed.Get);
        int coarse = CoarseSizes[random.Next(CoarseSizes.Length)];
        int fine = 512 << random.Next(BitOperations.Log2((uint)(coarse / 512)) + 1);
        long size = random.Next(1, 6 * 1024) * 512L;
        DiskFormat sourceFormat = SyncDisks.Pick(random.Next());
        DiskFormat targetFormat = SyncDisks.Pick(random.Next());
        byte[] source = DiffModel.Content(random, size);
        byte[] target = random.Next(6) == 0 ? DiffModel.Content(random, size) : DiffModel.Changed(random, source);
        var manifestOptions = new ManifestOptions { CoarseBlockSize = coarse, FineBlockSize = fine, MaxDegreeOfParallelism = random.Next(1, 4) };
        string context = $"seed {seed.Get}: {size} bytes, blocks {coarse}/{fine}, {sourceFormat}->{targetFormat}";

        using var dir = new TempDirectory();
        string sourcePath = SyncDisks.Create(dir, "source", sourceFormat, source);
        string targetPath = SyncDisks.Create(dir, "target", targetFormat, target);
        List<DiskExtent> expected = DiffModel.ExpectedRanges(source, target, fine);
        long expectedBytes = expected.Sum(r => r.Length);
        long expectedZero = DiffModel.ZeroBytes(source, target, fine);

        using (VirtualDisk a = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess))
        using (VirtualDisk b = VirtualDisk.Open(targetPath, DiskOpenOptions.ReadOnlyAccess))
        using (ManifestBuildResult ma = new ManifestBuilder().BuildAsync(a, dir.File("a.manifest"), manifestOptions).GetAwaiter().GetResult())
        using (ManifestBuildResult mb = new ManifestBuilder().BuildAsync(b, dir.File("b.manifest"), manifestOptions).GetAwaiter().GetResult())
        {
            BlockDiff diff = BlockDiff.Compare(ma.Manifest, mb.Manifest);
            Assert.True(expected.SequenceEqual(diff.Ranges), $"{context}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", diff.Ranges)}]");
            Assert.Equal(expectedBytes, diff.ChangedBytes);
            Assert.Equal(expectedZero, diff.ZeroBytes);
            Assert.Equal(size, diff.BytesCompared);
            Assert.Equal(DiffModel.ManifestBytes(source, target, coarse, fine), diff.ManifestBytes);
        }

        var options = new SyncOptions { Manifest = manifestOptions, CheckpointPath = dir.File("sync.checkpoint") };
        SyncResult first = Sync(sourcePath, targetPath, options, dir.File("target.manifest"));
        Assert.True(source.AsSpan().SequenceEqual(SyncDisks.ReadAll(targetPath)), $"{context}: the target differs from the source after sync");
        Assert.Equal(expectedBytes, first.BytesDiffering);
        Assert.Equal(expectedBytes - expectedZero, first.DataBytesSent);
        Assert.Equal(expectedBytes, first.BytesWritten);
        Assert.Equal(size, first.BytesCompared);
        Assert.False(File.Exists(dir.File("sync.checkpoint")), "the checkpoint is deleted when the sync completes");

        SyncResult second = Sync(sourcePath, targetPath, options, dir.File("target.manifest"));
        Assert.Equal(0, second.BytesDiffering);
        Assert.Equal(0, second.DataBytesSent);
        Assert.Equal(0, second.BytesWritten);
        Assert.True(TargetManifestOrigin.Verified == second.TargetManifest, context + " " + second.TargetManifestRejection);
        Assert.Equal(ManifestHeaderCount(size, coarse) * BlockDiff.CoarseHashWireBytes, second.ManifestBytes);
    }

    private static long ManifestHeaderCount(long size, int coarse) => (size + coarse - 1) / coarse;

    private static SyncResult Sync(string sourcePath, string targetPath, SyncOptions options, string manifestPath)
    {
        using VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(targetPath);
        return new DiskSynchronizer().ResyncAsync(source, target, new ManifestFile(manifestPath, target), options).GetAwaiter().GetResult();
    }
}
