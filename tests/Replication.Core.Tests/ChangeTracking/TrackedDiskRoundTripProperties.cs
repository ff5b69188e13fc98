using FsCheck;
using FsCheck.Xunit;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// Random write sequences (aligned or not, sync or async) through a TrackedDisk with random flushes and rotations, on
/// every disk kind: applying the sealed logs in order to a copy of the starting disk gives, after each log, the disk as
/// it was when that log was sealed, and in the end the current disk, byte for byte; the undo logs captured on the way,
/// applied in reverse, restore every earlier point.
/// </summary>
public sealed class TrackedDiskRoundTripProperties
{
    private const int Size = 1 << 20;

    [Property(MaxTest = 10)]
    public bool Raw((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("raw", ops);

    [Property(MaxTest = 10)]
    public bool Vhd_fixed((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhd-fixed", ops);

    [Property(MaxTest = 10)]
    public bool Vhd_dynamic((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhd-dynamic", ops);

    [Property(MaxTest = 10)]
    public bool Vhd_differencing((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhd-differencing", ops);

    [Property(MaxTest = 10)]
    public bool Vhdx_fixed((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhdx-fixed", ops);

    [Property(MaxTest = 10)]
    public bool Vhdx_dynamic((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhdx-dynamic", ops);

    [Property(MaxTest = 10)]
    public bool Vhdx_differencing((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("vhdx-differencing", ops);

    [Property(MaxTest = 10)]
    public bool Data_write_guid_double((NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops) => RoundTrip("dwg", ops);

    /// <summary>Every kind in <see cref="TrackedDiskKinds.All"/> has a property above.</summary>
    [Fact]
    public void Every_tracked_disk_kind_is_covered()
    {
        string[] covered = ["raw", "vhd-fixed", "vhd-dynamic", "vhd-differencing", "dwg", "vhdx-fixed", "vhdx-dynamic", "vhdx-differencing"];
        Assert.Equal(TrackedDiskKinds.All.Order(), covered.Order());
    }

    private static bool RoundTrip(string kind, (NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops)
    {
        RoundTripAsync(kind, ops).GetAwaiter().GetResult();
        return true;
    }

    private static async Task RoundTripAsync(string kind, (NonNegativeInt Offset, PositiveInt Length, byte Seed, byte Op)[] ops)
    {
        using var temp = new TempDirectory();
        byte[] model = DiskKinds.ScatteredContent(Size, ops.Length);
        string path = TrackedDiskKinds.Create(temp.Path, kind, model);
        string replicaPath = TrackedDiskKinds.Copy(path, kind, "replica");
        var snapshots = new List<byte[]>();
        var logs = new List<SealedLog>();
        var clock = new ManualTimeProvider(HrlTestLogs.Start);
        await using (TrackedDisk disk = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), temp.File("logs"), Options(regionSize: 64 << 10), timeProvider: clock))
        {
            int sequence = 0;
            foreach ((NonNegativeInt offset, PositiveInt length, byte seed, byte op) in ops)
            {
                clock.Now += TimeSpan.FromSeconds(1);
                switch (op % 10)
                {
                    case 0:
                        logs.Add(await disk.RotateAsync());
                        snapshots.Add((byte[])model.Clone());
                        break;
                    case 1:
                        await disk.FlushAsync();
                        break;
                    default:
                        long start = offset.Get * 977L % Size;
                        long count = Math.Min((length.Get * 131L % 70_000) + 1, Size - start);
                        if (op % 2 == 0)
                        {
                            start = start / 512 * 512;
                            count = Math.Min(Math.Max(512, count / 512 * 512), Size - start);
                        }

                        byte[] data = Random(seed + (1000 * sequence++), (int)count);
                        if (op % 3 == 0)
                        {
                            await disk.WriteAsync(start, data);
                        }
                        else
                        {
                            disk.Write(start, data);
                        }

                        data.CopyTo(model, start);
                        break;
                }
            }

            logs.Add(await disk.RotateAsync());
            snapshots.Add((byte[])model.Clone());
            Assert.Equal(model, ReadAll(disk));
            Assert.False(disk.Resync.IsRequired);
        }

        using IVirtualDisk replica = TrackedDiskKinds.Open(replicaPath, kind);
        var points = new List<byte[]> { ReadAll(replica) };
        var undos = new List<UndoLogInfo>();
        Guid point = Guid.Empty;
        for (int i = 0; i < logs.Count; i++)
        {
            LogApplyResult result = await new LogApplier().ApplyAsync([logs[i].Path], replica, new LogApplyOptions { ExpectedPreviousUniqueId = point, UndoLogPath = temp.File($"undo-{i}.hrl"), Transfer = new TransferOptions { MaxConcurrency = 1 + (i % 4) } });
            point = result.LastUniqueId;
            undos.Add(result.UndoLog!);
            byte[] now = ReadAll(replica);
            Assert.True(snapshots[i].AsSpan().SequenceEqual(now), $"{kind}: after log {i + 1} of {logs.Count} the replica is not the disk as it was when that log was sealed");
            points.Add(now);
        }

        Assert.Equal(model, points[^1]);
        for (int i = undos.Count - 1; i >= 0; i--)
        {
            await new LogApplier().ApplyAsync([undos[i].Path], replica, new LogApplyOptions { ExpectedPreviousUniqueId = point });
            point = undos[i].RestoresTo;
            Assert.True(points[i].AsSpan().SequenceEqual(ReadAll(replica)), $"{kind}: undo {i + 1} does not restore the point before log {i + 1}");
        }
    }
}
