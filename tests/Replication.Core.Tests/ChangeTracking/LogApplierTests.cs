using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Transfer;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

public sealed class LogApplierTests : IDisposable
{
    private static readonly LogApplier Applier = new();

    private const int Size = 2 << 20;
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start);

    public void Dispose() => _temp.Dispose();

    /// <summary>A source disk, a replica copy of it, and three sealed logs of random writes made to the source.</summary>
    private async Task<(string Source, string Replica, List<SealedLog> Logs)> ThreeLogsAsync(int seed = 1)
    {
        byte[] content = DiskKinds.ScatteredContent(Size, seed);
        string source = TrackedDiskKinds.Create(_temp.Path, "raw", content);
        string replica = TrackedDiskKinds.Copy(source, "raw", "replica");
        var logs = new List<SealedLog>();
        var random = new Random(seed);
        using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(source), _temp.File("logs"), Options(), timeProvider: _clock);
        for (int l = 0; l < 3; l++)
        {
            for (int i = 0; i < 40; i++)
            {
                int length = random.Next(1, 20_000);
                disk.Write(random.Next(0, Size - length), Random(random.Next(), length));
            }

            logs.Add(await disk.RotateAsync());
        }

        return (source, replica, logs);
    }

    private static byte[] Image(string path)
    {
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        return ReadAll(disk);
    }

    [Theory]
    [InlineData(1, 1 << 20)]
    [InlineData(4, 64 * 1024)]
    [InlineData(16, 128 * 1024)]
    public async Task Applying_the_logs_in_order_gives_the_source(int parallelism, int chunkSize)
    {
        (string source, string replica, List<SealedLog> logs) = await ThreeLogsAsync();
        using (VirtualDisk target = VirtualDisk.Open(replica))
        {
            LogApplyResult result = await Applier.ApplyAsync([.. logs.Select(l => l.Path)], target, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty, Transfer = new TransferOptions { MaxConcurrency = parallelism, MaxWriteSize = chunkSize } });
            Assert.Equal(3, result.LogCount);
            Assert.Equal(Guid.Empty, result.PreviousUniqueId);
            Assert.Equal(logs[^1].UniqueId, result.LastUniqueId);
            Assert.Equal(120, result.RecordCount);
            Assert.True(result.BytesWritten < result.LoggedBytes);
            Assert.Null(result.UndoLog);
        }

        Assert.Equal(Image(source), Image(replica));
    }

    [Fact]
    public async Task Applying_again_or_one_log_at_a_time_gives_the_same_replica()
    {
        (string source, string replica, List<SealedLog> logs) = await ThreeLogsAsync(2);
        using (VirtualDisk target = VirtualDisk.Open(replica))
        {
            Guid point = Guid.Empty;
            foreach (SealedLog log in logs)
            {
                point = (await Applier.ApplyAsync([log.Path], target, new LogApplyOptions { ExpectedPreviousUniqueId = point })).LastUniqueId;
            }

            await Applier.ApplyAsync([.. logs.Select(l => l.Path)], target);
            await Applier.ApplyAsync([logs[2].Path], target);
        }

        Assert.Equal(Image(source), Image(replica));
    }

    [Fact]
    public async Task A_log_that_does_not_continue_the_chain_is_refused_before_anything_is_written()
    {
        (_, string replica, List<SealedLog> logs) = await ThreeLogsAsync(3);
        byte[] before = Image(replica);
        using VirtualDisk target = VirtualDisk.Open(replica);

        // A gap, a wrong order, a fork (the target is at another point), a log twice.
        string[][] broken =
        [
            [logs[0].Path, logs[2].Path],
            [logs[1].Path, logs[0].Path],
            [logs[0].Path, logs[1].Path, logs[1].Path],
        ];
        foreach (string[] paths in broken)
        {
            ReplicationException ex = await Assert.ThrowsAsync<ReplicationException>(() => Applier.ApplyAsync(paths, target));
            Assert.Equal(ReplicationErrorCode.ChainBroken, ex.Code);
        }

        ReplicationException fork = await Assert.ThrowsAsync<ReplicationException>(() => Applier.ApplyAsync([logs[1].Path], target, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.NewGuid() }));
        Assert.Equal(ReplicationErrorCode.ChainBroken, fork.Code);
        Assert.Contains(logs[1].Path, fork.Message, StringComparison.Ordinal);
        Assert.Equal(before, ReadAll(target));
    }

    [Fact]
    public async Task A_missing_or_disagreeing_sidecar_is_refused_before_anything_is_written()
    {
        (_, string replica, List<SealedLog> logs) = await ThreeLogsAsync(4);
        using VirtualDisk target = VirtualDisk.Open(replica);
        string sidecar = HrlIntegrity.GetSidecarPath(logs[2].Path);
        byte[] saved = File.ReadAllBytes(sidecar);

        File.Delete(sidecar);
        ReplicationException missing = await Assert.ThrowsAsync<ReplicationException>(() => Applier.ApplyAsync([.. logs.Select(l => l.Path)], target));
        Assert.Equal(ReplicationErrorCode.NotFound, missing.Code);

        // Without a required sidecar the log's own checksums still guard it.
        await Applier.ApplyAsync([logs[0].Path], target, new LogApplyOptions { RequireIntegritySidecar = false });

        File.WriteAllBytes(sidecar, saved);
        byte[] log = File.ReadAllBytes(logs[1].Path);
        int at = 5000;
        while (log[at] == log[at + 1])
        {
            at++;
        }

        (log[at], log[at + 1]) = (log[at + 1], log[at]);
        File.WriteAllBytes(logs[1].Path, log);
        using (VirtualDisk fresh = VirtualDisk.Open(TrackedDiskKinds.Copy(replica, "raw", "fresh")))
        {
            byte[] freshBefore = ReadAll(fresh);
            InvalidLogFormatException swapped = await Assert.ThrowsAsync<InvalidLogFormatException>(() => Applier.ApplyAsync([.. logs.Select(l => l.Path)], fresh, new LogApplyOptions { RequireIntegritySidecar = false }));
            Assert.Equal("XxHash128", swapped.Field);
            Assert.Equal(freshBefore, ReadAll(fresh));
        }
    }

    /// <summary>
    /// Thousands of random bit flips in a sealed log applied without its sidecar (as a Hyper-V log would be): each is
    /// refused with a typed error and the target is untouched, unless it hit the one place the format does not check
    /// (unused entry slots of a metadata block), where the apply must give exactly the right disk.
    /// </summary>
    [Fact]
    public async Task Bit_flips_in_a_log_without_sidecar_are_refused_or_harmless_never_applied()
    {
        const int DiskSize = 256 << 10;
        string path = _temp.File("flips.hrl");
        var random = new Random(12);
        byte[] start = Random(1, DiskSize);
        byte[] expected = (byte[])start.Clone();
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock, new HrlWriterOptions { MetadataSize = 1024 }))
        {
            for (int i = 0; i < 40; i++)
            {
                byte[] data = Random(100 + i, random.Next(1, 9) * 512);
                long offset = random.Next(0, (DiskSize - data.Length) / 512) * 512L;
                writer.Append(offset, data);
                data.CopyTo(expected, offset);
                if (i % 7 == 6)
                {
                    writer.Commit();
                }
            }

            writer.Seal();
        }

        byte[] log = File.ReadAllBytes(path);
        var options = new LogApplyOptions { RequireIntegritySidecar = false };
        int refused = 0;
        int harmless = 0;
        for (int flip = 0; flip < 2000; flip++)
        {
            byte[] damaged = (byte[])log.Clone();
            int at = random.Next(damaged.Length);
            damaged[at] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(path, damaged);
            var target = new MemoryDisk((byte[])start.Clone());
            try
            {
                await Applier.ApplyAsync([path], target, options);
                Assert.True(expected.AsSpan().SequenceEqual(target.Bytes), $"a flip at {at} changed what was applied");
                harmless++;
            }
            catch (InvalidLogFormatException)
            {
                Assert.True(start.AsSpan().SequenceEqual(target.Bytes), $"a flip at {at} was refused after part of the log was applied");
                refused++;
            }
        }

        Assert.True(refused > 1500, $"{refused} refused, {harmless} harmless");
    }

    [Fact]
    public async Task A_log_reaching_past_the_target_is_refused_before_anything_is_written()
    {
        (_, _, List<SealedLog> logs) = await ThreeLogsAsync(5);
        string small = _temp.File("small.img");
        VirtualDisk.Create(small, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 1 << 20 }).Dispose();
        using VirtualDisk target = VirtualDisk.Open(small);
        InvalidLogFormatException ex = await Assert.ThrowsAsync<InvalidLogFormatException>(() => Applier.ApplyAsync([.. logs.Select(l => l.Path)], target));
        Assert.Equal("ByteOffset", ex.Field);
        Assert.True(target.IsKnownZero(0, 1 << 20) || ReadAll(target).All(b => b == 0));
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            using VirtualDisk readOnly = VirtualDisk.Open(small, DiskOpenOptions.ReadOnlyAccess);
            await Applier.ApplyAsync([logs[0].Path], readOnly);
        });
        await Assert.ThrowsAsync<ArgumentException>(() => Applier.ApplyAsync([], target));
    }

    [Fact]
    public async Task Undo_logs_applied_in_reverse_restore_every_earlier_point()
    {
        (string source, string replica, List<SealedLog> logs) = await ThreeLogsAsync(6);
        var points = new List<byte[]> { Image(replica) };
        var undos = new List<UndoLogInfo>();
        using (VirtualDisk target = VirtualDisk.Open(replica))
        {
            Guid point = Guid.Empty;
            for (int i = 0; i < logs.Count; i++)
            {
                LogApplyResult result = await Applier.ApplyAsync([logs[i].Path], target, new LogApplyOptions { ExpectedPreviousUniqueId = point, UndoLogPath = _temp.File($"undo-{i}.hrl") });
                UndoLogInfo undo = result.UndoLog!;
                Assert.False(undo.Reused);
                Assert.Equal(point, undo.RestoresTo);
                Assert.Equal(logs[i].UniqueId, undo.AppliesAfter);
                HrlIntegrity.VerifySidecar(undo.Path);
                undos.Add(undo);
                points.Add(ReadAll(target));
                point = result.LastUniqueId;
            }

            Assert.Equal(Image(source), points[^1]);
            for (int i = undos.Count - 1; i >= 0; i--)
            {
                LogApplyResult undone = await Applier.ApplyAsync([undos[i].Path], target, new LogApplyOptions { ExpectedPreviousUniqueId = point });
                point = undos[i].RestoresTo;
                Assert.Equal(points[i], ReadAll(target));
            }
        }
    }

    [Fact]
    public async Task An_apply_restarted_after_a_crash_keeps_the_undo_log_it_already_sealed()
    {
        (_, string replica, List<SealedLog> logs) = await ThreeLogsAsync(7);
        byte[] original = Image(replica);
        string undoPath = _temp.File("undo.hrl");
        string[] paths = [.. logs.Select(l => l.Path)];
        using VirtualDisk target = VirtualDisk.Open(replica);
        UndoLogInfo first = (await Applier.ApplyAsync(paths, target, new LogApplyOptions { UndoLogPath = undoPath })).UndoLog!;
        byte[] applied = ReadAll(target);

        // A crash half-way: part of the new data is on the target; the undo log is complete. Applying again must keep
        // the undo log as it was (capturing now would record new data as the "before" image).
        target.Write(0, original.AsSpan(0, Size / 2));
        LogApplyResult again = await Applier.ApplyAsync(paths, target, new LogApplyOptions { UndoLogPath = undoPath });
        Assert.True(again.UndoLog!.Reused);
        Assert.Equal(first.UniqueId, again.UndoLog.UniqueId);
        Assert.Equal(applied, ReadAll(target));

        // Sealed and renamed but its sidecar not yet written: checked structurally, then kept.
        File.Delete(HrlIntegrity.GetSidecarPath(undoPath));
        Assert.True((await Applier.ApplyAsync(paths, target, new LogApplyOptions { UndoLogPath = undoPath })).UndoLog!.Reused);
        HrlIntegrity.VerifySidecar(undoPath);

        await Applier.ApplyAsync([undoPath], target, new LogApplyOptions { ExpectedPreviousUniqueId = logs[^1].UniqueId });
        Assert.Equal(original, ReadAll(target));

        // An undo log of another apply in the way is refused, not overwritten.
        ReplicationException ex = await Assert.ThrowsAsync<ReplicationException>(() => Applier.ApplyAsync([paths[0]], target, new LogApplyOptions { UndoLogPath = undoPath }));
        Assert.Equal(ReplicationErrorCode.ChainBroken, ex.Code);

        // A capture cut short (.partial) is discarded and taken again.
        string second = _temp.File("undo2.hrl");
        File.WriteAllBytes(second + HrlFormat.PartialSuffix, new byte[5000]);
        Assert.False((await Applier.ApplyAsync([paths[0]], target, new LogApplyOptions { UndoLogPath = second })).UndoLog!.Reused);
        Assert.False(File.Exists(second + HrlFormat.PartialSuffix));
    }

    /// <summary>The staging limits that take every log into memory, only the first, or none (every log read twice).</summary>
    public static TheoryData<string> StagingCases => ["all", "first", "none"];

    private static long StagingLimit(string staging, List<SealedLog> logs) => staging switch
    {
        "all" => LogApplyOptions.DefaultStagingLimit,
        "first" => logs[0].Length + 1,
        _ => 0,
    };

    [Theory]
    [MemberData(nameof(StagingCases))]
    public async Task Applying_with_logs_staged_in_memory_or_not_gives_the_source(string staging)
    {
        (string source, string replica, List<SealedLog> logs) = await ThreeLogsAsync(8);
        using (VirtualDisk target = VirtualDisk.Open(replica))
        {
            var options = new LogApplyOptions { StagingLimit = StagingLimit(staging, logs), Transfer = new TransferOptions { MaxConcurrency = 2, MaxWriteSize = 64 * 1024 } };
            LogApplyResult result = await Applier.ApplyAsync([.. logs.Select(l => l.Path)], target, options);
            Assert.Equal(120, result.RecordCount);
        }

        Assert.Equal(Image(source), Image(replica));
    }

    /// <summary>
    /// Bit flips anywhere in a log with a sidecar, and a log cut short, are refused before any byte is written, whether
    /// the log is staged in memory (hashed as it is read once) or hashed and then read again.
    /// </summary>
    [Theory]
    [MemberData(nameof(StagingCases))]
    public async Task A_flipped_or_truncated_log_with_a_sidecar_leaves_the_replica_untouched(string staging)
    {
        (_, string replica, List<SealedLog> logs) = await ThreeLogsAsync(9);
        byte[] before = Image(replica);
        string[] paths = [.. logs.Select(l => l.Path)];
        var options = new LogApplyOptions { StagingLimit = StagingLimit(staging, logs) };
        var random = new Random(9);
        foreach (SealedLog log in logs)
        {
            byte[] good = File.ReadAllBytes(log.Path);
            for (int flip = 0; flip < 40; flip++)
            {
                byte[] damaged = (byte[])good.Clone();
                int at = random.Next(damaged.Length);
                damaged[at] ^= (byte)(1 << random.Next(8));
                File.WriteAllBytes(log.Path, damaged);
                var target = new MemoryDisk((byte[])before.Clone());
                InvalidLogFormatException ex = await Assert.ThrowsAsync<InvalidLogFormatException>(() => Applier.ApplyAsync(paths, target, options));
                Assert.True(ex.Field is "XxHash128" or "UniqueId", $"a flip at {at} of {log.Path} was refused by {ex.Field}, not by the sidecar");
                Assert.True(before.AsSpan().SequenceEqual(target.Bytes), $"a flip at {at} of {log.Path} reached the replica");
            }

            File.WriteAllBytes(log.Path, good[..^512]);
            var cut = new MemoryDisk((byte[])before.Clone());
            InvalidLogFormatException truncated = await Assert.ThrowsAsync<InvalidLogFormatException>(() => Applier.ApplyAsync(paths, cut, options));
            Assert.Equal("length", truncated.Field);
            Assert.True(before.AsSpan().SequenceEqual(cut.Bytes));
            File.WriteAllBytes(log.Path, good);
        }
    }

    /// <summary>
    /// A staged log is applied from the bytes that were verified: a log file rewritten while the apply writes (after
    /// its hash was checked) changes nothing of what reaches the replica.
    /// </summary>
    [Fact]
    public async Task A_staged_log_rewritten_during_the_apply_still_applies_the_verified_bytes()
    {
        (string source, string replica, List<SealedLog> logs) = await ThreeLogsAsync(10);
        string[] paths = [.. logs.Select(l => l.Path)];
        var target = new FaultyDisk(new MemoryDisk(Image(replica)));
        int writes = 0;
        target.OnWrite = (_, _) =>
        {
            if (writes++ == 0)
            {
                foreach (string path in paths)
                {
                    byte[] bytes = File.ReadAllBytes(path);
                    bytes.AsSpan(HrlFormat.HeaderSize).Fill(0x5A);
                    File.WriteAllBytes(path, bytes);
                }
            }
        };

        await Applier.ApplyAsync(paths, target, new LogApplyOptions { Transfer = new TransferOptions { MaxConcurrency = 1, MaxWriteSize = 4096 } });
        Assert.True(writes > 1);
        Assert.Equal(Image(source), ReadAll(target));
    }
}
