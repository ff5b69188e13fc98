using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

public sealed class TrackedDiskTests : IDisposable
{
    private const int Size = 4 << 20;
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start);

    public void Dispose() => _temp.Dispose();

    private string Logs => Path.Combine(_temp.Path, "logs");

    private (string Path, byte[] Content) NewDisk(string kind = "raw", int seed = 1)
    {
        byte[] content = DiskKinds.ScatteredContent(Size, seed);
        return (TrackedDiskKinds.Create(_temp.Path, kind, content), content);
    }

    [Fact]
    public async Task Writes_go_to_the_disk_and_in_order_to_the_log_and_rotation_chains_the_logs()
    {
        (string path, byte[] model) = NewDisk();
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock))
        {
            Assert.True(disk.OpenReport.StartedNewChain);
            Assert.Equal(1, disk.ActiveSequenceNumber);
            byte[] a = Random(1, 8192);
            byte[] b = Random(2, 4096);
            disk.Write(4096, a);
            await disk.WriteAsync(8192, b);
            a.CopyTo(model, 4096);
            b.CopyTo(model, 8192);
            Guid first = disk.ActiveUniqueId;
            SealedLog one = await disk.RotateAsync();
            Assert.Equal(1, one.SequenceNumber);
            Assert.Equal(first, one.UniqueId);
            Assert.Equal(Guid.Empty, one.PreviousUniqueId);
            Assert.Equal(2, one.RecordCount);
            Assert.Equal(8192 + 4096, one.DataBytes);
            Assert.Equal(2, disk.ActiveSequenceNumber);
            Assert.Equal(HrlIntegrity.VerifySidecar(one.Path).Hash, one.Hash);

            byte[] c = Random(3, 512);
            disk.Write(Size - 512, c);
            c.CopyTo(model, Size - 512);
            SealedLog two = await disk.RotateAsync();
            Assert.Equal(one.UniqueId, two.PreviousUniqueId);
            Assert.Equal([Key(one), Key(two)], disk.PendingLogs.Select(Key));
            Assert.Equal(model, ReadAll(disk));

            List<(long Offset, byte[] Data)> records = Records([one.Path, two.Path]);
            Assert.Equal([4096L, 8192L, Size - 512], records.Select(r => r.Offset));
            Assert.Equal(a, records[0].Data);
            Assert.Equal(b, records[1].Data);
            Assert.Equal(c, records[2].Data);
        }

        using VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(model, ReadAll(reopened));
    }

    [Fact]
    public async Task Unaligned_writes_are_logged_as_their_covering_sectors()
    {
        (string path, byte[] model) = NewDisk(seed: 7);
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        (long Offset, int Length)[] writes = [(100, 10), (1000, 100), (511, 2), (4096 + 7, 3000), (Size - 3, 3), (0, 1)];
        foreach ((long offset, int length) in writes)
        {
            byte[] data = Random((int)offset, length);
            disk.Write(offset, data);
            data.CopyTo(model, offset);
        }

        SealedLog log = await disk.RotateAsync();
        List<(long Offset, byte[] Data)> records = Records([log.Path]);
        Assert.Equal(writes.Length, records.Count);
        for (int i = 0; i < writes.Length; i++)
        {
            long start = writes[i].Offset / 512 * 512;
            long end = (writes[i].Offset + writes[i].Length + 511) / 512 * 512;
            Assert.Equal(start, records[i].Offset);
            Assert.Equal(end - start, records[i].Data.Length);
        }

        // Each record holds the sectors as they were right after its write: replaying gives the disk.
        byte[] replayed = DiskKinds.ScatteredContent(Size, 7);
        Replay(replayed, records);
        Assert.Equal(model, replayed);
        Assert.Equal(model, ReadAll(disk));
    }

    [Fact]
    public async Task Closing_cleanly_seals_the_active_log_and_reopening_continues_the_chain()
    {
        (string path, _) = NewDisk();
        SealedLog first;
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
            first = await disk.RotateAsync();
            disk.Write(4096, Random(2, 4096));
        }

        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock))
        {
            Assert.False(disk.OpenReport.StartedNewChain);
            Assert.True(disk.OpenReport.WasClosedCleanly);
            Assert.False(disk.Resync.IsRequired);
            Assert.Equal(2, disk.PendingLogs.Count);
            Assert.Equal(first.UniqueId, disk.PendingLogs[1].PreviousUniqueId);
            Assert.Equal(disk.PendingLogs[1].UniqueId, (await disk.RotateAsync()).PreviousUniqueId);
        }

        // A session without writes leaves no empty log behind.
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock))
        {
        }

        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock))
        {
            Assert.Equal(3, disk.PendingLogs.Count);
            Assert.Equal(disk.PendingLogs[^1].UniqueId, (await disk.RotateAsync()).PreviousUniqueId);
            Assert.Equal(0, disk.OpenReport.RemovedFiles);
        }
    }

    [Fact]
    public async Task After_a_rotation_the_next_log_is_written_into_preallocated_zeros_and_sealed_to_its_end()
    {
        (string path, byte[] model) = NewDisk();
        string spare = Path.Combine(Logs, "next.hrl.zeros");
        using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(preallocation: 2 << 20), timeProvider: _clock))
        {
            disk.Write(0, Random(1, 4096));
            SealedLog first = await disk.RotateAsync();
            Assert.Equal(2 << 20, new FileInfo(spare).Length);

            // The second log was created before the spare existed; the third is created in it.
            disk.Write(4096, Random(2, 4096));
            await disk.RotateAsync();
            string active = Path.Combine(Logs, $"{disk.ActiveSequenceNumber:D12}.hrl.active");
            Assert.Equal(2 << 20, new FileInfo(active).Length);
            Assert.Equal(2 << 20, new FileInfo(spare).Length);
            byte[] data = Random(3, 8192);
            disk.Write(8192, data);
            data.CopyTo(model, 8192);
            Random(1, 4096).CopyTo(model, 0);
            Random(2, 4096).CopyTo(model, 4096);
            SealedLog third = await disk.RotateAsync();
            Assert.Equal(third.Length, new FileInfo(third.Path).Length);
            using (HrlReader reader = HrlReader.Open(third.Path))
            {
                Assert.Equal((ulong)third.Length, reader.Header.EolLocation);
                Assert.Single(reader.ReadRecords());
            }

            HrlIntegrity.VerifySidecar(third.Path);
            Assert.Equal(first.Length, new FileInfo(first.Path).Length);

            // A crash in a preallocated log: recovery scans the zeros, finds nothing in them, cuts them off.
            disk.Write(65536, Random(4, 4096));
            await disk.FlushAsync();
            disk.Abandon();
        }

        using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(preallocation: 2 << 20), timeProvider: _clock);
        SealedLog recovered = Assert.Single(reopened.OpenReport.RecoveredLogs);
        Assert.Equal(1, recovered.RecordCount);
        Assert.Equal(recovered.Length, new FileInfo(recovered.Path).Length);
        Assert.True(reopened.OpenReport.TornBytesCut >= (2 << 20) - recovered.Length - 4096);
    }

    [Fact]
    public async Task Released_logs_leave_the_state_and_the_folder()
    {
        (string path, _) = NewDisk();
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        var sealedLogs = new List<SealedLog>();
        for (int i = 0; i < 4; i++)
        {
            disk.Write(i * 4096, Random(i, 4096));
            sealedLogs.Add(await disk.RotateAsync());
        }

        await disk.ReleaseAsync(sealedLogs[1].SequenceNumber);
        Assert.Equal(sealedLogs.Skip(2).Select(Key), disk.PendingLogs.Select(Key));
        Assert.False(File.Exists(sealedLogs[0].Path));
        Assert.False(File.Exists(HrlIntegrity.GetSidecarPath(sealedLogs[1].Path)));
        await disk.ReleaseAsync(sealedLogs[1].SequenceNumber);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => disk.ReleaseAsync(disk.ActiveSequenceNumber));
        Assert.Equal(2, disk.PendingLogs.Count);
    }

    [Fact]
    public async Task Overlapping_concurrent_writers_leave_the_log_and_the_disk_in_the_same_order()
    {
        (string path, byte[] start) = NewDisk(seed: 3);
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        const int Writers = 4;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < 300; i++)
            {
                // All writers hammer the same 64 KiB, unaligned half of the time.
                long offset = random.Next(0, 60_000);
                byte[] data = Random((w * 1000) + i, random.Next(1, 4096));
                if (i % 2 == 0)
                {
                    disk.Write(offset, data);
                }
                else
                {
                    await disk.WriteAsync(offset, data);
                }

                if (i % 50 == 0)
                {
                    await disk.FlushAsync();
                }
            }
        })));

        SealedLog log = await disk.RotateAsync();
        Assert.Equal(Writers * 300, log.RecordCount);
        Replay(start, Records([log.Path]));
        Assert.Equal(start, ReadAll(disk));
    }

    [Fact]
    public async Task Concurrent_flushers_share_disk_flushes()
    {
        (string path, _) = NewDisk();
        var faulty = new FaultyDisk(VirtualDisk.Open(path));
        using TrackedDisk disk = TrackedDisk.Open(faulty, Logs, Options(), timeProvider: _clock);
        disk.Write(0, Random(0, 4096));
        int before = faulty.Flushes;

        // The first flush holds the disk's flush until released: every flusher that arrives meanwhile must share one.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        faulty.HoldFlushes = release.Task;
        Task first = disk.FlushAsync().AsTask();
        Assert.False(first.IsCompleted);
        Assert.Equal(before + 1, faulty.Flushes);
        const int Followers = 15;
        Task[] followers = [.. Enumerable.Range(1, Followers).Select(i =>
        {
            disk.Write(i * 4096L, Random(i, 4096));
            return disk.FlushAsync().AsTask();
        })];
        Assert.DoesNotContain(followers, f => f.IsCompleted);
        Assert.Equal(before + 1, faulty.Flushes);

        release.SetResult();
        await first;
        await Task.WhenAll(followers);

        // One flush for the first flusher, one shared by the fifteen that arrived while it ran: never one each.
        Assert.Equal(2, faulty.Flushes - before);
        byte[] sector = new byte[4096];
        for (int i = 0; i <= Followers; i++)
        {
            disk.Read(i * 4096L, sector);
            Assert.Equal(Random(i, 4096), sector);
        }
    }

    [Fact]
    public async Task Pending_logs_past_the_threshold_ask_for_a_resync_until_released()
    {
        (string path, _) = NewDisk();
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(threshold: 0.5), timeProvider: _clock);
        byte[] data = Random(1, 256 << 10);
        for (int i = 0; i < 7; i++)
        {
            disk.Write(0, data);
        }

        Assert.False(disk.Resync.IsRequired);
        SealedLog log = await disk.RotateAsync();
        disk.Write(0, data);
        Assert.Equal(ResyncReasons.PendingLogsTooLarge, disk.Resync.Reasons);
        Assert.True(disk.Resync.WholeDisk);
        await disk.ReleaseAsync(log.SequenceNumber);
        Assert.False(disk.Resync.IsRequired);
    }

    [Fact]
    public async Task A_failed_log_write_stops_tracking_and_a_rotation_resumes_it()
    {
        (string path, byte[] model) = NewDisk();
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        disk.Write(0, Random(1, 4096));
        Random(1, 4096).CopyTo(model, 0);
        disk.Write(4096, Random(5, 4096));
        Random(5, 4096).CopyTo(model, 4096);
        await disk.FlushAsync();
        disk.BeforeLogAppend = () => throw new IOException("injected: no space left on device");
        byte[] untracked = Random(2, 4096);
        disk.Write(8192, untracked);
        untracked.CopyTo(model, 8192);
        disk.BeforeLogAppend = null;
        Assert.False(disk.IsTracking);
        Assert.Equal(ResyncReasons.LogWriteFailed, disk.Resync.Reasons);
        Assert.True(disk.Resync.WholeDisk);
        disk.Write(16384, Random(3, 4096));
        Random(3, 4096).CopyTo(model, 16384);
        await disk.FlushAsync();
        Assert.Equal(model, ReadAll(disk));

        SealedLog failed = await disk.RotateAsync();
        Assert.True(disk.IsTracking);

        // The flushed writes are kept; what was appended after the flush died with the failed writer.
        Assert.Equal(2, failed.RecordCount);
        disk.Write(0, Random(4, 512));
        SealedLog next = await disk.RotateAsync();
        Assert.Equal(1, next.RecordCount);

        ResyncPlan plan = await disk.BeginResyncAsync();
        Assert.Equal(ResyncReasons.LogWriteFailed, plan.Requirement.Reasons);
        Assert.Empty(disk.PendingLogs);
        Assert.True(await disk.CompleteResyncAsync(plan));
        Assert.False(disk.Resync.IsRequired);
    }

    /// <summary>
    /// A large write logged directly writes its data into the log, then to the disk. When that log write fails and then
    /// the state file cannot be written either, the write is already on the disk: the exception must say so (not "the
    /// write was not performed"), and the claim that the disk is marked for resync must hold, both when the process goes
    /// on (the next flush records it) and when it dies before anything records it (the write-intent regions cover it).
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_large_write_whose_log_write_and_state_write_fail_says_it_reached_the_disk_and_is_resynced(bool useAsync, bool crash)
    {
        (string path, byte[] model) = NewDisk();
        var faulty = new FaultyDisk(VirtualDisk.Open(path));
        TrackedDisk disk = TrackedDisk.Open(faulty, Logs, Options(), timeProvider: _clock);
        const long At = 2 << 20;
        byte[] large = Random(7, 64 << 10);
        string statePath = Path.Combine(Logs, ChangeTrackingState.FileName);
        byte[]? savedState = null;
        bool ended = false;
        try
        {
            // Arms the region (a state write) while the state file is still writable.
            disk.Write(At, Random(6, 4096));
            await disk.FlushAsync();

            // The log write fails; then, while the disk write runs, the state file is made unwritable (a directory where the
            // file was: the state's atomic rename over it fails).
            disk.BeforeLogAppend = () => throw new IOException("injected: log volume failed");
            faulty.OnWrite = (offset, _) =>
            {
                if (offset == At && savedState is null)
                {
                    savedState = File.ReadAllBytes(statePath);
                    File.Delete(statePath);
                    Directory.CreateDirectory(statePath);
                }
            };
            ReplicationException failed;
            if (useAsync)
            {
                // The failure comes with the returned task, as from any asynchronous method; the call itself does not throw.
                ValueTask pending = disk.WriteAsync(At, large);
                failed = await Assert.ThrowsAsync<ReplicationException>(async () => await pending);
            }
            else
            {
                failed = Assert.Throws<ReplicationException>(() => disk.Write(At, large));
            }

            disk.BeforeLogAppend = null;
            faulty.OnWrite = null;
            large.CopyTo(model, At);

            Assert.Equal(ReplicationErrorCode.IoFailure, failed.Code);
            Assert.Contains("the write reached the disk but its change could not be recorded", failed.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("not performed", failed.Message, StringComparison.Ordinal);
            Assert.False(disk.IsTracking);
            Assert.Equal(model, ReadAll(disk));
            Assert.True(disk.Resync.WholeDisk);
            Assert.Equal(ResyncReasons.LogWriteFailed, disk.Resync.Reasons);

            // The state file is writable again: the pending trigger is what the state records next.
            Directory.Delete(statePath);
            File.WriteAllBytes(statePath, savedState!);
            ended = true;
            if (crash)
            {
                disk.Abandon();
            }
            else
            {
                await disk.FlushAsync();
                await disk.DisposeAsync();
            }
        }
        finally
        {
            if (!ended)
            {
                disk.Abandon();
            }
        }

        using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        ResyncRequirement resync = reopened.Resync;
        Assert.True(resync.IsRequired);
        if (crash)
        {
            // Nothing recorded the failure: the regions armed before the write cover it.
            Assert.Equal(ResyncReasons.UncleanShutdown, resync.Reasons);
            Assert.Contains(resync.Ranges, r => r.Offset <= At && At + large.Length <= r.End);
        }
        else
        {
            Assert.Equal(ResyncReasons.LogWriteFailed, resync.Reasons);
            Assert.True(resync.WholeDisk);
        }

        // Nothing lost: the disk holds the write, and the resync the requirement asks for covers it.
        Assert.Equal(model, ReadAll(reopened));
        ResyncPlan plan = await reopened.BeginResyncAsync();
        Assert.True(plan.Requirement.WholeDisk || plan.Requirement.Ranges.Any(r => r.Offset <= At && At + large.Length <= r.End));
        Assert.True(await reopened.CompleteResyncAsync(plan));
    }

    [Fact]
    public async Task A_failed_disk_write_is_recorded_for_its_range_then_thrown()
    {
        (string path, _) = NewDisk();
        var faulty = new FaultyDisk(VirtualDisk.Open(path));
        using TrackedDisk disk = TrackedDisk.Open(faulty, Logs, Options(), timeProvider: _clock);
        faulty.FailWrite = (offset, _) => offset == 65536;
        Assert.Throws<IOException>(() => disk.Write(65536 + 100, Random(1, 1000)));
        await Assert.ThrowsAsync<IOException>(async () => await disk.WriteAsync(65536, Random(1, 512)));
        faulty.FailWrite = null;
        ResyncRequirement resync = disk.Resync;
        Assert.Equal(ResyncReasons.DiskWriteFailed, resync.Reasons);
        Assert.Equal([new DiskExtent(65536, 1536)], resync.Ranges);
        disk.Write(0, Random(2, 512));

        // Recorded durably: a reopen still reports it.
        await disk.DisposeAsync();
        using TrackedDisk reopened = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        Assert.Equal(ResyncReasons.DiskWriteFailed, reopened.Resync.Reasons);
        Assert.Equal([new DiskExtent(65536, 1536)], reopened.Resync.Ranges);
    }

    /// <summary>
    /// A large write logged directly (its data written into the log from the caller's buffer) writes the log before its
    /// disk I/O: a flush of what was acknowledged earlier never waits for that unrelated, unacknowledged disk write (a
    /// review measured such a flush taking as long as the slow disk write did).
    /// </summary>
    [Fact]
    public async Task A_flush_does_not_wait_for_the_disk_write_of_a_large_write_still_in_flight()
    {
        (string path, _) = NewDisk();
        var faulty = new FaultyDisk(VirtualDisk.Open(path));
        using TrackedDisk disk = TrackedDisk.Open(faulty, Logs, Options(), timeProvider: _clock);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        faulty.OnWrite = (offset, _) =>
        {
            if (offset == 128 << 10)
            {
                entered.Set();
                release.Wait();
            }
        };
        disk.Write(0, Random(1, 4096));
        byte[] large = Random(2, 64 << 10);
        Task held = Task.Run(() => disk.Write(128 << 10, large));
        Assert.True(entered.Wait(TimeSpan.FromMinutes(1)), "the large write never reached the disk");

        // Bounded only so that a regression fails instead of hanging: with the disk write held, the flush must finish.
        Task flush = Task.Run(disk.Flush);
        Task first = await Task.WhenAny(flush, Task.Delay(TimeSpan.FromMinutes(1)));
        release.Set();
        Assert.Same(flush, first);
        await flush;
        await held;
        disk.Flush();
        byte[] back = new byte[large.Length];
        disk.Read(128 << 10, back);
        Assert.Equal(large, back);
    }

    [Fact]
    public async Task A_new_resync_trigger_during_a_resync_keeps_the_reasons()
    {
        (string path, _) = NewDisk();
        var faulty = new FaultyDisk(VirtualDisk.Open(path));
        using TrackedDisk disk = TrackedDisk.Open(faulty, Logs, Options(), timeProvider: _clock);
        faulty.FailWrite = (_, _) => true;
        Assert.Throws<IOException>(() => disk.Write(0, Random(1, 512)));
        ResyncPlan plan = await disk.BeginResyncAsync();
        Assert.Throws<IOException>(() => disk.Write(4096, Random(1, 512)));
        faulty.FailWrite = null;
        Assert.False(await disk.CompleteResyncAsync(plan));
        Assert.Equal(2, disk.Resync.Ranges.Count);
        ResyncPlan again = await disk.BeginResyncAsync();
        Assert.True(await disk.CompleteResyncAsync(again));
    }

    [Fact]
    public void Arguments_are_checked_before_anything_is_logged()
    {
        (string path, _) = NewDisk();
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(Size - 100, new byte[200]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(-1, new byte[1]));
        disk.Write(100, ReadOnlySpan<byte>.Empty);
        Assert.Throws<NotSupportedException>(() => TrackedDisk.Open(VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess), Path.Combine(_temp.Path, "ro")));
        Assert.StartsWith("ResyncThreshold", Assert.Single(new TrackedDiskOptions { ResyncThreshold = 0 }.Validate()), StringComparison.Ordinal);
        Assert.StartsWith("WriteIntentRegionSize", Assert.Single(new TrackedDiskOptions { WriteIntentRegionSize = 3 << 20 }.Validate()), StringComparison.Ordinal);
        using VirtualDisk other = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Throws<ArgumentException>(() => TrackedDisk.Open(other, Path.Combine(_temp.Path, "bad"), new TrackedDiskOptions { ResyncThreshold = 0 }, leaveOpen: true));
    }

    [Fact]
    public void Tracked_writes_and_flushes_allocate_nothing_in_steady_state()
    {
        (string path, _) = NewDisk();
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Logs, Options(), timeProvider: _clock);
        byte[] data = Random(1, 4096);
        byte[] unaligned = Random(2, 3000);

        // Synchronous writes and flushes stay on this thread (a flush blocks while the log is fsynced elsewhere), so
        // this thread's counter sees everything they allocate.
        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                disk.Write((i % 512) * 4096L, data);
                disk.Write(((i + 7) % 512 * 4096L) + 100, unaligned);
                if (i % 64 == 63)
                {
                    disk.Flush();
                }
            }
        }

        Run(600);
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(2000);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(least < 1024 + (31 * DebugAllowancePerFlush), $"{least} bytes allocated for 4000 writes (half unaligned) and 31 flushes");
    }

    /// <summary>
    /// Debug builds compile async state machines as classes, so each call of the flush's async methods allocates one even
    /// when it completes synchronously; Release builds (scripts/test.sh, the benchmarks) allocate nothing.
    /// </summary>
    private const int DebugAllowancePerFlush =
#if DEBUG
        512;
#else
        0;
#endif

    // A sealed log is a class (no value equality); two describe the same log when these agree.
    private static (long, Guid, Guid, string, long, UInt128, long, long) Key(SealedLog log) =>
        (log.SequenceNumber, log.UniqueId, log.PreviousUniqueId, log.Path, log.Length, log.Hash, log.RecordCount, log.DataBytes);
}
