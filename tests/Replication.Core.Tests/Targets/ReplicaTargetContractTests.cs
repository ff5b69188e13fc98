using System.IO.Hashing;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Targets;

/// <summary>
/// The contract every <see cref="IReplicaTarget"/> keeps, run against each implementation by a subclass that makes a
/// fresh, empty target.
/// </summary>
public abstract class ReplicaTargetContractTests : IDisposable
{
    protected const long Size = 8L << 20;

    protected TempDirectory Dir { get; } = new();

    /// <summary>A fresh, empty target (no replica yet) whose fence lasts <paramref name="lease"/> on <paramref name="clock"/>.</summary>
    protected abstract Task<IReplicaTarget> NewTargetAsync(TimeProvider? clock = null, TimeSpan? lease = null);

    /// <summary>A second client of the same target, as another process would have.</summary>
    protected abstract IReplicaTarget SameTarget(IReplicaTarget target, TimeProvider? clock = null);

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task The_size_alignment_the_target_reports_is_the_one_it_accepts()
    {
        IReplicaTarget target = await NewTargetAsync();
        ReplicaTargetCapabilities capabilities = target.Capabilities;
        long size = capabilities.ReplicaSizeFor(Size + 512);
        Assert.Equal(0, size % capabilities.SizeAlignment);
        Assert.InRange(size, Size + 512, Size + 512 + capabilities.SizeAlignment - 1);
        if (capabilities.SizeAlignment > 512)
        {
            await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync(size - 512));
        }

        Assert.True(await target.CreateReplicaAsync(size));
        Assert.Equal(size, await target.GetReplicaSizeAsync());
        Assert.Throws<ArgumentOutOfRangeException>(() => capabilities.ReplicaSizeFor(capabilities.MaxReplicaSize + 1));

        // Zeroing frees storage where the target says so: on a target that frees, a zeroed range reads as unallocated.
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            await writer.WriteAsync(0, RandomBytes(2 << 20, 9));
            await writer.ZeroAsync(0, 1 << 20);
            await writer.FlushAsync();
            if (capabilities.FreesZeroedRanges)
            {
                Assert.DoesNotContain(writer.GetAllocatedExtents(0, 1 << 20), e => e.Length > 0);
            }
        }
    }

    [Fact]
    public async Task Create_replica_is_idempotent_and_refuses_another_size()
    {
        IReplicaTarget target = await NewTargetAsync();
        Assert.Null(await target.GetReplicaSizeAsync());
        Assert.True(await target.CreateReplicaAsync(Size));
        Assert.False(await target.CreateReplicaAsync(Size));
        Assert.Equal(Size, await target.GetReplicaSizeAsync());
        var conflict = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.CreateReplicaAsync(Size * 2));
        Assert.Equal(ReplicationErrorCode.Conflict, conflict.Code);
        Assert.False(conflict.IsRecoverable);
        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync(0));
        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync(-(1L << 20)));
        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync(Size + 100));

        using IVirtualDisk replica = await target.OpenReplicaAsync();
        Assert.Equal(Size, replica.VirtualSize);
        byte[] all = new byte[Size];
        await replica.ReadAsync(0, all);
        Assert.False(all.AsSpan().ContainsAnyExcept((byte)0));
    }

    [Fact]
    public async Task Random_aligned_writes_and_zeroes_read_back_exactly()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        byte[] model = new byte[Size];
        var random = new Random(5);
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            Assert.Equal(Size, writer.VirtualSize);
            for (int i = 0; i < 40; i++)
            {
                long offset = random.NextInt64(0, Size / 512) * 512;
                int length = (int)Math.Min(Size - offset, random.Next(1, 3000) * 512L);
                if (i % 5 == 4)
                {
                    await writer.ZeroAsync(offset, length);
                    model.AsSpan((int)offset, length).Clear();
                }
                else
                {
                    byte[] data = new byte[length];
                    random.NextBytes(data);
                    await writer.WriteAsync(offset, data);
                    data.CopyTo(model, offset);
                }
            }

            await writer.FlushAsync();
            byte[] sample = new byte[64 * 1024];
            await writer.ReadAsync(1 << 20, sample);
            Assert.True(sample.AsSpan().SequenceEqual(model.AsSpan(1 << 20, sample.Length)));
        }

        using IVirtualDisk replica = await SameTarget(target).OpenReplicaAsync();
        DiskAssert.ContentEquals(model, replica);
    }

    [Fact]
    public async Task Unaligned_or_outside_ranges_are_rejected_and_change_nothing()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await writer.WriteAsync(100, new byte[512]));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await writer.WriteAsync(512, new byte[100]));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await writer.ZeroAsync(512, 1000));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.WriteAsync(Size, new byte[512]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.WriteAsync(Size - 512, new byte[1024]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.ZeroAsync(-512, 512));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.ReadAsync(Size - 512, new byte[1024]));
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        byte[] all = new byte[Size];
        await replica.ReadAsync(0, all);
        Assert.False(all.AsSpan().ContainsAnyExcept((byte)0));
    }

    [Fact]
    public async Task Writer_needs_a_replica()
    {
        IReplicaTarget target = await NewTargetAsync();
        var ex = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.AcquireWriterAsync());
        Assert.Equal(ReplicationErrorCode.NotFound, ex.Code);
        Assert.False(ex.IsRecoverable);
    }

    [Fact]
    public async Task Logs_are_staged_with_their_hash_idempotently_and_checked()
    {
        IReplicaTarget target = await NewTargetAsync();
        byte[] first = RandomBytes(300_000, 1);
        byte[] second = RandomBytes(5_000_000, 2);
        UInt128 firstHash = XxHash128.HashToUInt128(first);
        StagedLog staged = await target.PutLogAsync("log-0001.hrl", new MemoryStream(first), firstHash);
        Assert.Equal(new StagedLog("log-0001.hrl", first.Length, firstHash), staged);
        Assert.Equal(staged, await target.PutLogAsync("log-0001.hrl", new MemoryStream(first)));
        await target.PutLogAsync("log-0002.hrl", new MemoryStream(second));

        var conflict = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.PutLogAsync("log-0001.hrl", new MemoryStream(second)));
        Assert.Equal(ReplicationErrorCode.Conflict, conflict.Code);
        var corrupt = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.PutLogAsync("log-0003.hrl", new MemoryStream(first), firstHash + 1));
        Assert.Equal(ReplicationErrorCode.IntegrityCheckFailed, corrupt.Code);
        await Assert.ThrowsAsync<ArgumentException>(async () => await target.PutLogAsync("../escape", new MemoryStream(first)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await target.PutLogAsync(".hidden", new MemoryStream(first)));

        IReplicaTarget other = SameTarget(target);
        List<StagedLog> listed = await ToListAsync(other.ListLogsAsync());
        Assert.Equal(["log-0001.hrl", "log-0002.hrl"], listed.Select(l => l.Name));
        Assert.Equal(XxHash128.HashToUInt128(second), listed[1].Hash);
        Assert.Equal(second.Length, listed[1].Length);
        await using (Stream stream = await other.OpenLogAsync("log-0002.hrl"))
        {
            Assert.True(stream.CanSeek);
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.True(copy.ToArray().AsSpan().SequenceEqual(second));
            stream.Position = second.Length - 10;
            byte[] tail = new byte[10];
            await stream.ReadExactlyAsync(tail);
            Assert.True(tail.AsSpan().SequenceEqual(second.AsSpan(second.Length - 10)));
        }

        Assert.True(await other.DeleteLogAsync("log-0001.hrl"));
        Assert.False(await other.DeleteLogAsync("log-0001.hrl"));
        var missing = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await other.OpenLogAsync("log-0001.hrl"));
        Assert.Equal(ReplicationErrorCode.NotFound, missing.Code);
        Assert.Equal(["log-0002.hrl"], (await ToListAsync(target.ListLogsAsync())).Select(l => l.Name));
    }

    [Fact]
    public async Task Manifest_is_replaced_whole_and_read_back()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        Assert.Null((await target.OpenManifestAsync()).Content);
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            await writer.WriteManifestAsync(new MemoryStream(RandomBytes(100_000, 3)));
            await writer.WriteManifestAsync(new MemoryStream(RandomBytes(6_000_000, 4)));
        }

        await using StoredManifest stored = await SameTarget(target).OpenManifestAsync();
        Stream? manifest = stored.Content;
        Assert.True(manifest is not null, stored.Rejection);
        var copy = new MemoryStream();
        await manifest.CopyToAsync(copy);
        Assert.True(copy.ToArray().AsSpan().SequenceEqual(RandomBytes(6_000_000, 4)));
    }

    [Fact]
    public async Task Recovery_points_read_as_the_replica_was_whatever_came_after()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        byte[] model = new byte[Size];
        var states = new List<byte[]>();
        var points = new List<RecoveryPoint>();
        var random = new Random(9);
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            for (int round = 0; round < 4; round++)
            {
                for (int i = 0; i < 6; i++)
                {
                    long offset = random.NextInt64(0, Size / 512 - 600) * 512;
                    byte[] data = RandomBytes(random.Next(1, 600) * 512, random.Next());
                    await writer.WriteAsync(offset, data);
                    data.CopyTo(model, offset);
                }

                await writer.ZeroAsync(0, 64 * 1024);
                model.AsSpan(0, 64 * 1024).Clear();
                points.Add(await writer.CreateRecoveryPointAsync($"round {round} ✓"));
                states.Add((byte[])model.Clone());
            }

            // Overwrite everything once more after the last point.
            byte[] everything = RandomBytes((int)Size, 77);
            await writer.WriteAsync(0, everything);
            everything.CopyTo(model, 0);

            List<RecoveryPoint> listed = await ToListAsync(SameTarget(target).ListRecoveryPointsAsync());
            Assert.Equal(points.Select(p => p.Id), listed.Select(p => p.Id));
            Assert.Equal("round 2 ✓", listed[2].Label);
            for (int i = 0; i < points.Count; i++)
            {
                using IVirtualDisk point = await SameTarget(target).OpenRecoveryPointAsync(points[i].Id);
                Assert.True(point.IsReadOnly);
                DiskAssert.ContentEquals(states[i], point);
            }

            // Deleting points keeps every other point as it was.
            Assert.True(await writer.DeleteRecoveryPointAsync(points[1].Id));
            Assert.False(await writer.DeleteRecoveryPointAsync(points[1].Id));
            Assert.True(await writer.DeleteRecoveryPointAsync(points[3].Id));
            byte[] more = RandomBytes(1 << 20, 78);
            await writer.WriteAsync(2 << 20, more);
            more.CopyTo(model, 2 << 20);
            foreach (int i in new[] { 0, 2 })
            {
                using IVirtualDisk point = await target.OpenRecoveryPointAsync(points[i].Id);
                DiskAssert.ContentEquals(states[i], point);
            }

            var gone = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.OpenRecoveryPointAsync(points[1].Id));
            Assert.Equal(ReplicationErrorCode.NotFound, gone.Code);
        }

        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(model, replica);
    }

    [Fact]
    public async Task A_second_writer_is_refused_while_the_fence_is_held()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        await using IReplicaWriter first = await target.AcquireWriterAsync();
        var held = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await SameTarget(target).AcquireWriterAsync());
        Assert.Equal(ReplicationErrorCode.FenceHeld, held.Code);
        Assert.True(held.IsRecoverable);
        await first.WriteAsync(0, RandomBytes(4096, 1));
        await first.ReleaseAsync();
        var released = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await first.WriteAsync(0, new byte[512]));
        Assert.Equal(ReplicationErrorCode.FenceLost, released.Code);
        await using IReplicaWriter second = await SameTarget(target).AcquireWriterAsync();
        Assert.True(second.FenceEpoch > first.FenceEpoch);
        await second.WriteAsync(0, new byte[512]);
    }

    [Fact]
    public async Task A_writer_that_lost_the_fence_changes_nothing()
    {
        IReplicaTarget target = await NewTargetAsync();
        await target.CreateReplicaAsync(Size);
        byte[] model = new byte[Size];
        IReplicaWriter stale = await target.AcquireWriterAsync();
        byte[] before = RandomBytes(1 << 20, 11);
        await stale.WriteAsync(0, before);
        before.CopyTo(model, 0);
        RecoveryPoint point = await stale.CreateRecoveryPointAsync("before the takeover");

        IReplicaTarget other = SameTarget(target);
        await using IReplicaWriter current = await other.AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = true });
        Assert.True(current.FenceEpoch > stale.FenceEpoch);
        byte[] after = RandomBytes(1 << 20, 12);
        await current.WriteAsync(1 << 20, after);
        after.CopyTo(model, 1 << 20);

        foreach (Func<ValueTask> change in new Func<ValueTask>[]
        {
            () => stale.WriteAsync(0, RandomBytes(1 << 20, 13)),
            () => stale.WriteAsync(4 << 20, RandomBytes(512, 14)),
            () => stale.ZeroAsync(1 << 20, 1 << 20),
            () => stale.WriteManifestAsync(new MemoryStream(RandomBytes(1000, 15))),
            async () => await stale.CreateRecoveryPointAsync("stale"),
            async () => await stale.DeleteRecoveryPointAsync(point.Id),
            () => stale.RenewAsync(),
        })
        {
            var lost = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await change());
            Assert.Equal(ReplicationErrorCode.FenceLost, lost.Code);
            Assert.False(lost.IsRecoverable);
        }

        await stale.DisposeAsync();
        await current.WriteAsync(2 << 20, new byte[512]);
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(model, replica);
        Assert.Null((await target.OpenManifestAsync()).Content);
        Assert.Equal([point.Id], (await ToListAsync(target.ListRecoveryPointsAsync())).Select(p => p.Id));
    }

    [Fact]
    public async Task A_writer_whose_lease_lapsed_stops_writing()
    {
        var clock = new ManualTimeProvider();
        IReplicaTarget target = await NewTargetAsync(clock, TimeSpan.FromSeconds(15));
        await target.CreateReplicaAsync(Size);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        Assert.NotNull(writer.FenceExpiresAt);
        await writer.WriteAsync(0, new byte[512]);
        clock.Advance(TimeSpan.FromSeconds(10));
        await writer.RenewAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        await writer.WriteAsync(0, new byte[512]);
        clock.Advance(TimeSpan.FromSeconds(20));
        var lapsed = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await writer.WriteAsync(0, new byte[512]));
        Assert.Equal(ReplicationErrorCode.FenceLost, lapsed.Code);
    }

    [Fact]
    public async Task Seed_then_download_round_trips_byte_for_byte_and_reseed_converges()
    {
        IReplicaTarget target = await NewTargetAsync();
        byte[] content = HalfZeroContent(Size, 21);
        string source = Dir.File("source.img");
        WriteRaw(source, content);
        await target.CreateReplicaAsync(Size);
        TransferResult seeded;
        using (VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess))
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            seeded = (await new DiskSynchronizer().SeedAsync(disk, writer, options: new SyncOptions { DestinationKnownZero = true, Transfer = new TransferOptions { MaxConcurrency = 4 } })).Transfer!;
        }

        Assert.Equal(Size, seeded.BytesTotal);
        Assert.Equal(NonZeroUnits(content, 4096) * 4096L, seeded.BytesSent);
        Assert.Equal(Size - seeded.BytesSent, seeded.BytesZeroed);
        Assert.Equal(0, seeded.Retries);

        string downloaded = Dir.File("downloaded.img");
        using (IVirtualDisk replica = await SameTarget(target).OpenReplicaAsync())
        using (VirtualDisk output = VirtualDisk.Create(downloaded, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }))
        {
            TransferResult result = (await new DiskSynchronizer().SeedAsync(replica, output, options: new SyncOptions { DestinationKnownZero = true })).Transfer!;
            Assert.True(result.BytesRead <= Size);
        }

        DiskAssert.FilesEqual(source, downloaded);

        // A re-seed of other content over the same replica clears what is now zero and sends the rest.
        byte[] other = HalfZeroContent(Size, 22);
        WriteRaw(source, other, truncate: true);
        using (VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess))
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            await new DiskSynchronizer().SeedAsync(disk, writer);
        }

        using IVirtualDisk again = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(other, again);
    }

    protected static byte[] RandomBytes(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Random 64 KiB blocks with about half of them zero, and a few isolated non-zero sectors.</summary>
    internal static byte[] HalfZeroContent(long size, int seed)
    {
        var random = new Random(seed);
        byte[] content = new byte[size];
        for (long block = 0; block < size; block += 64 * 1024)
        {
            if (random.Next(2) == 0)
            {
                random.NextBytes(content.AsSpan((int)block, 64 * 1024));
            }
            else if (random.Next(8) == 0)
            {
                content[block + random.Next(64 * 1024)] = 0xEE;
            }
        }

        return content;
    }

    internal static long NonZeroUnits(ReadOnlySpan<byte> content, int unit)
    {
        long count = 0;
        for (int i = 0; i < content.Length; i += unit)
        {
            if (content.Slice(i, Math.Min(unit, content.Length - i)).ContainsAnyExcept((byte)0))
            {
                count++;
            }
        }

        return count;
    }

    internal static void WriteRaw(string path, byte[] content, bool truncate = false)
    {
        using var stream = new FileStream(path, truncate ? FileMode.Create : FileMode.CreateNew);
        stream.Write(content);
    }

    protected static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
