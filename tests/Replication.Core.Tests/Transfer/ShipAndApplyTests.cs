using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Local;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.Transfer;

/// <summary>
/// Ship-and-apply: sealed logs of a tracked disk, coalesced and written straight to a replica's writer (local and
/// Azurite) through the one copy engine. The replica ends equal to the source, zero runs are made zero rather than sent,
/// a killed apply resumes from its checkpoint without sending again what it covers, and on a local target the previous
/// recovery point is protected by the writer's own undo capture.
/// </summary>
public sealed class ShipAndApplyTests : IDisposable
{
    private const long Size = 16L << 20;
    private readonly TempDirectory _dir = new();

    public static TheoryData<string> Targets => new() { "local", "azure" };

    public void Dispose() => _dir.Dispose();

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Logs_applied_to_a_replica_writer_make_it_equal_the_source_and_zero_runs_are_not_sent(string kind)
    {
        (string disk, byte[] start) = NewDisk(1);
        IReplicaTarget target = await NewTargetAsync(kind);
        await SeedAsync(target, disk);
        RecoveryPoint before;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            before = await writer.CreateRecoveryPointAsync("before the logs");
        }

        (List<string> logs, byte[] expected, long zeroed) = await WriteLogsAsync(disk, seed: 2);
        LogApplyResult result;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            result = await new LogApplier().ApplyAsync(logs, writer);
        }

        Assert.Equal(logs.Count, result.LogCount);
        Assert.True(result.BytesZeroed >= zeroed, $"{result.BytesZeroed} bytes made zero, {zeroed} written as zeros");
        Assert.Equal(result.BytesWritten, result.BytesSent + result.BytesZeroed);
        Assert.Equal(NonZeroPages(expected, result, logs) , result.BytesSent);
        await AssertReplicaAsync(target, expected);
        if (kind == "local")
        {
            using IVirtualDisk point = await target.OpenRecoveryPointAsync(before.Id);
            Assert.True(ReadAll(point).AsSpan().SequenceEqual(start), "the recovery point taken before the apply changed");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task A_stopped_apply_resumes_from_its_checkpoint_and_sends_only_the_rest(string kind)
    {
        (string disk, _) = NewDisk(3);
        IReplicaTarget target = await NewTargetAsync(kind);
        await SeedAsync(target, disk);
        (List<string> logs, byte[] expected, _) = await WriteLogsAsync(disk, seed: 4);
        string checkpoint = _dir.File("apply.checkpoint");
        var options = new LogApplyOptions
        {
            CheckpointPath = checkpoint,
            Transfer = new TransferOptions { MaxConcurrency = 2, MaxWriteSize = 256 * 1024, CheckpointInterval = TimeSpan.Zero, ProgressInterval = TimeSpan.Zero },
        };

        long durable = 0;
        using var cts = new CancellationTokenSource();
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new LogApplier().ApplyAsync(logs, writer, options, new Reporter(p =>
            {
                if (p.IsCheckpoint && p.CheckpointedUpTo > 0 && durable == 0)
                {
                    durable = p.CheckpointedUpTo;
                    cts.Cancel();
                }
            }), cts.Token));
        }

        Assert.True(durable > 0);
        Assert.True(File.Exists(checkpoint));
        LogApplyResult rest;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            rest = await new LogApplier().ApplyAsync(logs, writer, options);
        }

        Assert.True(rest.ResumedFrom >= durable, $"resumed from {rest.ResumedFrom}, the checkpoint said {durable}");
        Assert.True(rest.BytesSent + rest.BytesZeroed < rest.BytesWritten, "the resumed apply wrote again what the checkpoint covered");
        Assert.False(File.Exists(checkpoint));
        await AssertReplicaAsync(target, expected);
    }

    private (string Path, byte[] Content) NewDisk(int seed)
    {
        byte[] content = DiskKinds.ScatteredContent(Size, seed);
        string path = SyncDisks.Create(_dir, "source" + seed, DiskFormat.Raw, content);
        return (path, content);
    }

    private async Task<IReplicaTarget> NewTargetAsync(string kind) => kind == "local"
        ? new LocalDirectoryTarget(_dir.File("target"), new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw })
        : Azurite.Target(await Azurite.NewContainerAsync());

    private static async Task SeedAsync(IReplicaTarget target, string disk)
    {
        using VirtualDisk source = VirtualDisk.Open(disk, DiskOpenOptions.ReadOnlyAccess);
        bool created = await target.CreateReplicaAsync(source.VirtualSize);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        await new DiskSynchronizer().SeedAsync(source, writer, options: new SyncOptions { DestinationKnownZero = created });
    }

    /// <summary>Writes scattered data, overwrites some of it, zeroes a range through the tracked disk, and seals the logs.</summary>
    private async Task<(List<string> Logs, byte[] Expected, long Zeroed)> WriteLogsAsync(string disk, int seed)
    {
        var random = new Random(seed);
        var logs = new List<string>();
        byte[] expected;
        const long ZeroAt = 6L << 20;
        const long ZeroLength = 3L << 20;
        await using (TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(disk), _dir.File("logs" + seed), Options()))
        {
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < 40; i++)
                {
                    byte[] data = new byte[(random.Next(1, 33)) * 4096];
                    random.NextBytes(data);
                    await tracked.WriteAsync(random.Next(0, (int)((Size - data.Length) / 4096)) * 4096L, data);
                }

                if (round == 1)
                {
                    await tracked.ZeroAsync(ZeroAt, ZeroLength);
                }

                logs.Add((await tracked.RotateAsync()).Path);
            }

            expected = ReadAll(tracked);
        }

        return (logs, expected, ZeroLength);
    }

    /// <summary>Bytes of the coalesced extents that hold data: what must cross the link (4 KiB units, as the engine scans).</summary>
    private static long NonZeroPages(byte[] expected, LogApplyResult result, List<string> logs)
    {
        long total = 0;
        foreach (DiskExtent range in ChangedRanges(logs))
        {
            for (long page = range.Offset; page < range.End; page += 4096)
            {
                int length = (int)Math.Min(4096, range.End - page);
                total += expected.AsSpan((int)page, length).ContainsAnyExcept((byte)0) ? length : 0;
            }
        }

        Assert.True(total <= result.BytesWritten);
        return total;
    }

    private static List<DiskExtent> ChangedRanges(List<string> logs)
    {
        var readers = logs.Select(global::Replication.Core.ChangeTracking.Hrl.HrlReader.Open).ToList();
        try
        {
            using CoalescedChanges changes = CoalescedChanges.Build(readers);
            return [.. changes.GetChangedRanges()];
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }
    }

    private static async Task AssertReplicaAsync(IReplicaTarget target, byte[] expected)
    {
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(expected, replica);
    }

    private sealed class Reporter(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
