using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Local;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Transfer;

/// <summary>
/// Re-seeding by manifest: the first seed sends everything, later ones send exactly the fine blocks that changed, and a
/// stored manifest that cannot be trusted (damaged, or left empty by an interrupted run) makes the next seed send
/// everything again. On the local target and on Azurite.
/// </summary>
public sealed class ReplicaSeederTests : IDisposable
{
    private const long Size = 24L << 20;
    private readonly TempDirectory _dir = new();

    public static TheoryData<string> Targets => new() { "local", "azure" };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task A_second_seed_sends_only_the_changed_fine_blocks_and_a_third_sends_nothing(string kind)
    {
        byte[] content = DiskKinds.ScatteredContent(Size, seed: 11);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Vhdx, content);
        IReplicaTarget target = await NewTargetAsync(kind);

        SyncResult first = await SeedAsync(sourcePath, target);
        Assert.Equal(SyncMode.Full, first.Mode);
        await AssertReplicaEqualsAsync(target, content);

        // Change three 4 KiB pages (one of them only partly) and zero one that held data.
        var random = new Random(5);
        long[] patched = [4096 * 3, (9L << 20) + 100, (17L << 20) + 8192];
        long zeroed = FirstNonZeroPage(content, from: 1 << 20);
        Assert.DoesNotContain(zeroed, patched.Select(p => p / 4096 * 4096));
        using (VirtualDisk source = VirtualDisk.Open(sourcePath))
        {
            foreach (long offset in patched)
            {
                byte[] patch = new byte[3000];
                random.NextBytes(patch);
                source.Write(offset, patch);
                patch.CopyTo(content, offset);
            }

            source.Write(zeroed, new byte[4096]);
            Array.Clear(content, (int)zeroed, 4096);
        }

        SyncResult second = await SeedAsync(sourcePath, target);
        Assert.Equal(SyncMode.ByManifest, second.Mode);
        Assert.Equal(TargetManifestOrigin.Verified, second.TargetManifest);
        Assert.Null(second.TargetManifestRejection);
        Assert.Equal(4 * 4096, second.BytesDiffering);
        Assert.Equal(3 * 4096, second.DataBytesSent); // the zeroed page is cleared, not sent
        await AssertReplicaEqualsAsync(target, content);

        SyncResult third = await SeedAsync(sourcePath, target);
        Assert.Equal(SyncMode.ByManifest, third.Mode);
        Assert.Equal(0, third.BytesDiffering);
        Assert.Equal(0, third.DataBytesSent);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task A_damaged_or_emptied_stored_manifest_is_never_trusted(string kind)
    {
        byte[] content = DiskKinds.ScatteredContent(Size, seed: 12);
        string sourcePath = SyncDisks.Create(_dir, "source", DiskFormat.Raw, content);
        IReplicaTarget target = await NewTargetAsync(kind);
        await SeedAsync(sourcePath, target);

        // An empty manifest, and a damaged one that fails its checksums, each stored for a replica that drifted from
        // what any manifest says.
        foreach (byte[] stored in new[] { Array.Empty<byte>(), Damaged(await ReadManifestAsync(target)) })
        {
            await using (IReplicaWriter writer = await target.AcquireWriterAsync())
            {
                await writer.WriteAsync(1 << 20, new byte[512]);
                await writer.FlushAsync();
                await writer.WriteManifestAsync(new MemoryStream(stored));
            }

            SyncResult reseed = await SeedAsync(sourcePath, target);
            Assert.Equal(SyncMode.ByManifest, reseed.Mode);
            Assert.Equal(TargetManifestOrigin.Rebuilt, reseed.TargetManifest);
            Assert.NotNull(reseed.TargetManifestRejection);
            await AssertReplicaEqualsAsync(target, content);
        }
    }

    private async Task<IReplicaTarget> NewTargetAsync(string kind) => kind == "local"
        ? new LocalDirectoryTarget(_dir.File("target"))
        : Azurite.Target(await Azurite.NewContainerAsync());

    private async Task<SyncResult> SeedAsync(string sourcePath, IReplicaTarget target)
    {
        using VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess);
        long size = (source.VirtualSize + (1 << 20) - 1) / (1 << 20) * (1 << 20);
        bool created = await target.CreateReplicaAsync(size);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        var options = new SyncOptions { DestinationKnownZero = created, WorkDirectory = _dir.Path };
        var sync = new DiskSynchronizer();
        return created
            ? await sync.SeedAsync(source, writer, writer, options)
            : await sync.ResyncAsync(source, writer, writer, options);
    }

    private static async Task AssertReplicaEqualsAsync(IReplicaTarget target, byte[] content)
    {
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        byte[] actual = new byte[content.Length];
        replica.Read(0, actual);
        Assert.True(actual.AsSpan().SequenceEqual(content), "the replica differs from the source");
    }

    private static async Task<byte[]> ReadManifestAsync(IReplicaTarget target)
    {
        await using StoredManifest manifest = await target.OpenManifestAsync();
        Stream stored = manifest.Content ?? throw new InvalidOperationException(manifest.Rejection);
        using var copy = new MemoryStream();
        await stored.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static byte[] Damaged(byte[] manifest)
    {
        manifest[manifest.Length / 2] ^= 0x10;
        return manifest;
    }

    private static long FirstNonZeroPage(byte[] content, int from) =>
        (from + content.AsSpan(from).IndexOfAnyExcept((byte)0)) / 4096 * 4096;

    public void Dispose() => _dir.Dispose();
}
