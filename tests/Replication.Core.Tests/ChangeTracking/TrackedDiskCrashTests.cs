using System.Collections.Concurrent;
using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using Replication.TestChild;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// A child process writes through a TrackedDisk, flushing and rotating, and is killed with SIGKILL at a random point:
/// at a random line of its output, right after it announced a rotation, or right after a flush returned. On reopen:
/// every write acknowledged by a completed flush (or rotation) is on the disk and in the sealed logs; the torn tail of
/// the log it left open is cut; the stop is reported as unclean, with ranges outside which the replica (the starting
/// disk plus every sealed log) equals the disk; and no log sealed before the kill has changed.
/// </summary>
public sealed class TrackedDiskCrashTests
{
    private const int Size = 2 << 20;
    private const int Writes = 150;
    private const int MaxWriteLength = 32 * 1024;
    private const int LargeWriteLength = 256 * 1024;

    [Theory]
    [MemberData(nameof(TrackedDiskKinds.CrashData), MemberType = typeof(TrackedDiskKinds))]
    public void Killed_at_random_points_loses_no_flushed_write_and_damages_no_sealed_log(string kind)
    {
        int points = TestKnobs.Count("REPL_TRACK_CRASH_POINTS", 100);
        int baseSeed = 20261126 + kind.Length;
        var failures = new ConcurrentQueue<string>();
        Parallel.For(0, points, new ParallelOptions { MaxDegreeOfParallelism = 3 }, point =>
        {
            try
            {
                KillAndCheck(kind, baseSeed + point).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failures.Enqueue($"kill point {point} (seed {baseSeed + point}): {ex}");
            }
        });

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures.Take(3)));
    }

    /// <summary>
    /// As above with writes of up to 256 KiB: the aligned ones of 64 KiB and more go into the log straight from the
    /// caller's buffer, written after their entry is taken and alongside the disk write, so a block can reach the log
    /// before the data it describes.
    /// </summary>
    [Theory]
    [MemberData(nameof(TrackedDiskKinds.CrashData), MemberType = typeof(TrackedDiskKinds))]
    public void Killed_at_random_points_with_large_writes_loses_no_flushed_write(string kind)
    {
        int points = TestKnobs.Count("REPL_TRACK_CRASH_POINTS", 100) / 2;
        int baseSeed = 20261205 + kind.Length;
        var failures = new ConcurrentQueue<string>();
        Parallel.For(0, points, new ParallelOptions { MaxDegreeOfParallelism = 3 }, point =>
        {
            try
            {
                KillAndCheck(kind, baseSeed + point, LargeWriteLength).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failures.Enqueue($"kill point {point} (seed {baseSeed + point}): {ex}");
            }
        });

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures.Take(3)));
    }

    private static async Task KillAndCheck(string kind, int seed, int maxWriteLength = MaxWriteLength)
    {
        var random = new Random(seed);
        int flushEvery = random.Next(1, 9);
        int rotateEvery = random.Next(3, 25);
        int mode = random.Next(4);
        int target = random.Next(1, 260);

        using var temp = new TempDirectory();
        byte[] start = DiskKinds.ScatteredContent(Size, seed);
        string path = TrackedDiskKinds.Create(temp.Path, kind, start);
        string replicaPath = TrackedDiskKinds.Copy(path, kind, "replica");
        string logs = temp.File("logs");

        long lastDurable = -1;
        long lastStarted = -1;
        bool done = false;
        bool closing = false;
        var sealedBeforeKill = new Dictionary<long, string>();
        using (ChildProcess child = ChildProcess.StartDotnet(
            RepoPaths.TestChildDll,
            "tracked-writes",
            path,
            logs,
            seed.ToString(CultureInfo.InvariantCulture),
            Writes.ToString(CultureInfo.InvariantCulture),
            maxWriteLength.ToString(CultureInfo.InvariantCulture),
            flushEvery.ToString(CultureInfo.InvariantCulture),
            rotateEvery.ToString(CultureInfo.InvariantCulture)))
        {
            int lines = 0;
            bool killed = false;
            while (child.ReadLine() is { } line)
            {
                Observe(line);
                lines++;
                bool trigger = mode switch
                {
                    0 => line == "rotating" && lines >= target / 3,
                    1 => line.StartsWith("ack ", StringComparison.Ordinal) && lines >= target / 2,
                    _ => lines >= target,
                };
                if (trigger)
                {
                    if (random.Next(2) == 0)
                    {
                        Thread.SpinWait(random.Next(0, 200_000));
                    }

                    child.Kill();
                    killed = true;
                    break;
                }
            }

            while (killed && child.ReadLine() is { } rest)
            {
                Observe(rest);
            }
        }

        void Observe(string line)
        {
            string[] parts = line.Split(' ');
            switch (parts[0])
            {
                case "w":
                    lastStarted = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                case "ack":
                    lastDurable = Math.Max(lastDurable, long.Parse(parts[1], CultureInfo.InvariantCulture));
                    break;
                case "rotated":
                    sealedBeforeKill[long.Parse(parts[1], CultureInfo.InvariantCulture)] = parts[2];
                    lastDurable = Math.Max(lastDurable, long.Parse(parts[3], CultureInfo.InvariantCulture));
                    break;
                case "closing":
                    closing = true;
                    break;
                case "done":
                    done = true;
                    break;
            }
        }

        byte[] model = (byte[])start.Clone();
        for (int i = 0; i <= lastDurable; i++)
        {
            (long offset, byte[] data) = CrashWorkload.Write(seed, i, Size, maxWriteLength);
            data.CopyTo(model, offset);
        }

        var inFlight = new List<DiskExtent>();
        for (long i = lastDurable + 1; i <= lastStarted; i++)
        {
            (long offset, byte[] data) = CrashWorkload.Write(seed, (int)i, Size, maxWriteLength);
            long first = offset / 512 * 512;
            inFlight.Add(new DiskExtent(first, ((offset + data.Length + 511) / 512 * 512) - first));
        }

        string context = $"{kind}, flush every {flushEvery}, rotate every {rotateEvery}, mode {mode}, durable through {lastDurable}, started through {lastStarted}";
        bool cleanAfterKill;
        await using (TrackedDisk disk = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackedWrites.Options))
        {
            TrackingOpenReport report = disk.OpenReport;
            cleanAfterKill = report.WasClosedCleanly;
            ResyncRequirement resync = disk.Resync;
            // Killed before the close began: unclean. After "done": clean. In between, either.
            Assert.True(closing || !report.WasClosedCleanly, context);
            Assert.True(!done || report.WasClosedCleanly, context);
            Assert.Equal(!report.WasClosedCleanly, resync.Reasons.HasFlag(ResyncReasons.UncleanShutdown));
            // A VHDX renews its DataWriteGuid with the session's first write. Killed after that renewal and before the
            // tracker records the new GUID (the first write had not returned), the next open cannot tell this session's
            // write from an edit made while tracking was off, and asks for a whole-disk resync: the safe side. Never
            // otherwise.
            bool firstWriteWindow = lastStarted <= 0 && resync.Reasons.HasFlag(ResyncReasons.DataWriteGuidChanged);
            Assert.True(!resync.WholeDisk || firstWriteWindow, $"{context}: {resync}");
            IReadOnlyList<DiskExtent> mayDiffer = resync.WholeDisk ? [new DiskExtent(0, Size)] : resync.Ranges;

            IReadOnlyList<SealedLog> pending = disk.PendingLogs;
            foreach ((long sequence, string hash) in sealedBeforeKill)
            {
                SealedLog log = Assert.Single(pending, l => l.SequenceNumber == sequence);
                Assert.Equal(hash, log.Hash.ToString("x32", CultureInfo.InvariantCulture));
            }

            foreach (SealedLog log in pending)
            {
                HrlIntegrity.VerifySidecar(log.Path);
            }

            byte[] current = ReadAll(disk);
            DifferOnlyInside(model, current, inFlight, $"{context}: disk vs acknowledged writes");

            byte[] replica;
            using (IVirtualDisk replicaDisk = TrackedDiskKinds.Open(replicaPath, kind))
            {
                if (pending.Count > 0)
                {
                    await new LogApplier().ApplyAsync([.. pending.Select(l => l.Path)], replicaDisk, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty });
                }

                replica = ReadAll(replicaDisk);
            }

            DifferOnlyInside(model, replica, inFlight, $"{context}: logs vs acknowledged writes");
            DifferOnlyInside(replica, current, mayDiffer, $"{context}: replica vs disk outside the reported ranges");
        }

        // Closed cleanly this time: the next open finds nothing to recover, and the reasons are still there.
        using TrackedDisk again = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackedWrites.Options);
        Assert.True(again.OpenReport.WasClosedCleanly, context);
        Assert.Empty(again.OpenReport.RecoveredLogs);
        Assert.Equal(cleanAfterKill, !again.Resync.IsRequired);
    }
}
