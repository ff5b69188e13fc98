using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// Opening after a crash (simulated in process by abandoning the tracked disk: buffered log data is lost, nothing is
/// sealed or recorded) and after damage to the chain, its sidecars or its state file.
/// </summary>
public sealed class TrackedDiskRecoveryTests : IDisposable
{
    private const int Size = 4 << 20;
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start);
    private readonly byte[] _start = DiskKinds.ScatteredContent(Size, 11);

    public void Dispose() => _temp.Dispose();

    private string Logs => _temp.File("logs");

    private static TrackedDiskOptions Opts(bool verify = false) => new()
    {
        LogOptions = new HrlWriterOptions { MetadataSize = 1024, BufferSize = 16384 },
        ResyncThreshold = 50,
        WriteIntentRegionSize = 256 << 10,
        VerifyPendingLogsOnOpen = verify,
        LogPreallocation = 1 << 20,
    };

    private (string Path, string Replica) NewDisk(string kind = "raw")
    {
        string path = TrackedDiskKinds.Create(_temp.Path, kind, _start);
        return (path, TrackedDiskKinds.Copy(path, kind, "replica"));
    }

    private static async Task<byte[]> ApplyAllAsync(string replicaPath, string kind, IEnumerable<SealedLog> logs)
    {
        using IVirtualDisk replica = TrackedDiskKinds.Open(replicaPath, kind);
        string[] paths = [.. logs.Select(l => l.Path)];
        if (paths.Length > 0)
        {
            await new LogApplier().ApplyAsync(paths, replica, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty });
        }

        return ReadAll(replica);
    }

    [Fact]
    public async Task A_crash_keeps_every_flushed_write_and_reports_the_armed_regions_as_the_ranges_to_check()
    {
        (string path, string replica) = NewDisk();
        byte[] model = (byte[])_start.Clone();
        TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock);
        void Write(long offset, int length, int seed)
        {
            byte[] data = Random(seed, length);
            disk.Write(offset, data);
            data.CopyTo(model, offset);
        }

        Write(0, 8192, 1);
        await disk.RotateAsync();
        Write(1 << 20, 4096, 2);
        Write((1 << 20) + 100, 5000, 3);
        await disk.FlushAsync();
        byte[] flushed = (byte[])model.Clone();

        // Not flushed: on the disk (page cache survives a process crash), not in the log (its buffer does not).
        Write(3 << 20, 10_000, 4);
        disk.Abandon();

        using (TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            TrackingOpenReport report = reopened.OpenReport;
            Assert.False(report.WasClosedCleanly);
            SealedLog recovered = Assert.Single(report.RecoveredLogs);
            Assert.Equal(2, recovered.RecordCount);
            Assert.True(report.TornBytesCut >= 0);
            ResyncRequirement resync = reopened.Resync;
            Assert.Equal(ResyncReasons.UncleanShutdown, resync.Reasons);
            Assert.False(resync.WholeDisk);

            // The regions of the open log (1 MiB: two writes; 3 MiB: the unflushed one) and of the log sealed before it
            // (0), which stay armed for one more log; 256 KiB each.
            Assert.Equal([new DiskExtent(0, 256 << 10), new DiskExtent(1 << 20, 256 << 10), new DiskExtent(3 << 20, 256 << 10)], resync.Ranges);
            Assert.Equal(2, reopened.PendingLogs.Count);
            Assert.Equal(model, ReadAll(reopened));

            byte[] replayed = await ApplyAllAsync(replica, "raw", reopened.PendingLogs);
            Assert.Equal(flushed, replayed);
            DifferOnlyInside(replayed, model, resync.Ranges, "replica vs disk");

            // Tracking goes on in a new log chained to the recovered one.
            Assert.Equal(reopened.PendingLogs[^1].UniqueId, (await reopened.RotateAsync()).PreviousUniqueId);
        }
    }

    [Fact]
    public async Task A_crash_with_nothing_in_flight_needs_no_range_checked()
    {
        (string path, _) = NewDisk();
        TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock);
        disk.Write(0, Random(1, 4096));

        // Two rotations: the regions of a sealed log stay armed until the log after it is sealed too.
        await disk.RotateAsync();
        Assert.Equal(0, (await disk.RotateAsync()).RecordCount);
        disk.Abandon();

        using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock);
        Assert.Equal(ResyncReasons.UncleanShutdown, reopened.Resync.Reasons);
        Assert.Empty(reopened.Resync.Ranges);
        Assert.Equal(0, Assert.Single(reopened.OpenReport.RecoveredLogs).RecordCount);
        Assert.Equal(3, reopened.PendingLogs.Count);
        ResyncPlan plan = await reopened.BeginResyncAsync();
        Assert.True(await reopened.CompleteResyncAsync(plan));
        Assert.False(reopened.Resync.IsRequired);
    }

    [Fact]
    public async Task Repeated_crashes_accumulate_the_ranges()
    {
        (string path, _) = NewDisk();
        for (int round = 0; round < 3; round++)
        {
            TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock);
            disk.Write(round << 20, Random(round, 512));
            disk.Abandon();
        }

        using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock);
        Assert.Equal([new DiskExtent(0, 256 << 10), new DiskExtent(1 << 20, 256 << 10), new DiskExtent(2 << 20, 256 << 10)], reopened.Resync.Ranges);
        Assert.Equal(3, reopened.PendingLogs.Count);
    }

    [Fact]
    public async Task A_missing_or_altered_pending_log_breaks_the_chain()
    {
        foreach (string damage in new[] { "delete", "append", "truncate", "same-length" })
        {
            string dir = _temp.File(damage);
            Directory.CreateDirectory(dir);
            string path = TrackedDiskKinds.Create(dir, "raw", _start);
            string logs = Path.Combine(dir, "logs");
            SealedLog victim;
            using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), logs, Opts(), timeProvider: _clock))
            {
                disk.Write(0, Random(1, 4096));
                victim = await disk.RotateAsync();
                disk.Write(4096, Random(2, 4096));
                await disk.RotateAsync();
            }

            switch (damage)
            {
                case "delete":
                    File.Delete(victim.Path);
                    break;
                case "append":
                    File.AppendAllText(victim.Path, "x");
                    break;
                case "truncate":
                    using (FileStream s = File.OpenWrite(victim.Path))
                    {
                        s.SetLength(victim.Length - 512);
                    }

                    break;
                default:
                    byte[] bytes = File.ReadAllBytes(victim.Path);
                    bytes[5000] ^= 0x40;
                    File.WriteAllBytes(victim.Path, bytes);
                    break;
            }

            // A same-length change is found by the hash: at open when asked, and always before shipping or applying.
            using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), logs, Opts(verify: true), timeProvider: _clock);
            Assert.True(reopened.Resync.Reasons.HasFlag(ResyncReasons.ChainBroken), damage);
            Assert.True(reopened.Resync.WholeDisk, damage);
            if (damage != "delete")
            {
                Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(victim.Path));
            }
        }
    }

    [Fact]
    public async Task A_lost_or_damaged_sidecar_is_rewritten_from_the_state()
    {
        (string path, _) = NewDisk();
        SealedLog log;
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
            log = await disk.RotateAsync();
        }

        string sidecar = HrlIntegrity.GetSidecarPath(log.Path);
        byte[] good = File.ReadAllBytes(sidecar);
        File.Delete(sidecar);
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.False(disk.Resync.IsRequired);
        }

        Assert.Equal(good, File.ReadAllBytes(sidecar));
        File.WriteAllBytes(sidecar, new byte[64]);
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.False(disk.Resync.IsRequired);
        }

        Assert.Equal(good, File.ReadAllBytes(sidecar));
    }

    [Fact]
    public async Task Leftovers_of_interrupted_operations_are_removed_and_foreign_data_is_kept()
    {
        (string path, _) = NewDisk();
        SealedLog released;
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
            released = await disk.RotateAsync();
            await disk.RotateAsync();
        }

        // A release that recorded the state but crashed before deleting; a rotation that created its next log but
        // crashed before recording it; temporary files of an atomic replace.
        byte[] releasedBytes = File.ReadAllBytes(released.Path);
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            await disk.ReleaseAsync(released.SequenceNumber);
        }

        File.WriteAllBytes(released.Path, releasedBytes);
        HrlWriter.Create(Path.Combine(Logs, "000000000099.hrl.active"), new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock).Dispose();
        File.WriteAllBytes(Path.Combine(Logs, ".tracking.state.0123.tmp"), [1, 2, 3]);
        File.WriteAllText(Path.Combine(Logs, "notes.txt"), "not ours");
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.Equal(3, disk.OpenReport.RemovedFiles);
            Assert.False(disk.Resync.IsRequired);
        }

        Assert.False(File.Exists(released.Path));
        Assert.True(File.Exists(Path.Combine(Logs, "notes.txt")));

        // An unlisted log holding writes is not ours to delete: it is kept and the chain reported broken.
        string stray = Path.Combine(Logs, "000000000098.hrl.active");
        using (HrlWriter writer = HrlWriter.Create(stray, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock))
        {
            writer.Append(0, new byte[512]);
            writer.Commit();
        }

        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.Equal(ResyncReasons.ChainBroken, disk.Resync.Reasons);
        }

        Assert.True(File.Exists(stray));
    }

    [Fact]
    public void A_lost_corrupt_or_foreign_state_file_is_refused_with_a_typed_error()
    {
        (string path, _) = NewDisk();
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
        }

        string statePath = Path.Combine(Logs, "tracking.state");
        byte[] state = File.ReadAllBytes(statePath);
        state[100] ^= 1;
        File.WriteAllBytes(statePath, state);
        InvalidRecordException corrupt = Assert.Throws<InvalidRecordException>(() => TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock));
        Assert.StartsWith("change tracking state.", corrupt.Field, StringComparison.Ordinal);
        Assert.Contains(statePath, corrupt.Message, StringComparison.Ordinal);

        state[100] ^= 1;
        File.WriteAllBytes(statePath, state);
        string other = _temp.File("other.img");
        VirtualDisk.Create(other, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size * 2 }).Dispose();
        Assert.Throws<ArgumentException>(() => TrackedDisk.Open(VirtualDisk.Open(other), Logs, Opts(), timeProvider: _clock));

        File.Delete(statePath);
        ReplicationException lost = Assert.Throws<ReplicationException>(() => TrackedDisk.Open(VirtualDisk.Open(path), Logs, Opts(), timeProvider: _clock));
        Assert.Equal(ReplicationErrorCode.ChainBroken, lost.Code);
    }

    [Fact]
    public async Task A_DataWriteGuid_changed_while_tracking_was_off_asks_for_a_whole_disk_resync()
    {
        (string path, _) = NewDisk("dwg");
        using (TrackedDisk disk = TrackedDisk.Open(DataWriteGuidDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
            SealedLog log = await disk.RotateAsync();
            using HrlReader reader = HrlReader.Open(log.Path);
            Assert.NotEqual(Guid.Empty, reader.Header.Vhd2DataWriteGuid);
        }

        using (TrackedDisk disk = TrackedDisk.Open(DataWriteGuidDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.False(disk.Resync.IsRequired);
            using HrlReader active = HrlReader.Open(Path.Combine(Logs, $"{disk.ActiveSequenceNumber:D12}.hrl.active"));
            Assert.Equal(disk.DataWriteGuid, active.Header.Vhd2DataWriteGuid);
        }

        // A crash after this session's own first write renewed the GUID is not mistaken for an offline change.
        TrackedDisk crashed = TrackedDisk.Open(DataWriteGuidDisk.Open(path), Logs, Opts(), timeProvider: _clock);
        crashed.Write(4096, Random(2, 4096));
        crashed.Abandon();
        using (TrackedDisk disk = TrackedDisk.Open(DataWriteGuidDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            Assert.Equal(ResyncReasons.UncleanShutdown, disk.Resync.Reasons);
            ResyncPlan plan = await disk.BeginResyncAsync();
            await disk.CompleteResyncAsync(plan);
        }

        using (DataWriteGuidDisk offline = DataWriteGuidDisk.Open(path))
        {
            offline.Write(8192, Random(3, 512));
        }

        using (TrackedDisk disk = TrackedDisk.Open(DataWriteGuidDisk.Open(path), Logs, Opts(), timeProvider: _clock))
        {
            // The renewed GUID says it, and so does the file's stamp.
            Assert.Equal(ResyncReasons.DataWriteGuidChanged | ResyncReasons.DiskChangedOffline, disk.Resync.Reasons);
            Assert.True(disk.Resync.WholeDisk);
        }
    }
}
