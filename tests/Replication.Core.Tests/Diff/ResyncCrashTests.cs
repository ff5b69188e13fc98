using System.Globalization;
using Replication.Core.Disks;
using Replication.Core.Transfer;
using Replication.Core.Tests.Infrastructure;
using Replication.TestChild;
using Xunit.Abstractions;

namespace Replication.Core.Tests.Diff;

/// <summary>
/// A child process runs a sync and is killed with SIGKILL at a random point (while hashing the source, hashing the
/// target, copying, finalizing, or mid-checkpoint). Rerun, the sync converges (the target reads equal to the source),
/// sends no more data than was left after the child's last durable checkpoint, and hashes no more than was left.
/// </summary>
public sealed class ResyncCrashTests(ITestOutputHelper output)
{
    private const long Size = 32L << 20;
    private const long Interval = 1 << 20;

    [Theory]
    [MemberData(nameof(SyncDisks.Pairs), MemberType = typeof(SyncDisks))]
    public async Task A_sync_killed_at_random_points_converges_when_rerun_and_sends_no_more_than_was_left(DiskFormat sourceFormat, DiskFormat targetFormat)
    {
        int runs = TestKnobs.Count("REPL_CRASH_RUNS", 8);
        var random = new Random(20261126 + ((int)sourceFormat * 10) + (int)targetFormat);
        (byte[] source, byte[] target) = Pair(new Random(77));
        SyncResult reference;
        using (var dir = new TempDirectory())
        {
            reference = await SyncAsync(dir, SyncDisks.Create(dir, "s", sourceFormat, source), SyncDisks.Create(dir, "t", targetFormat, target));
        }

        Assert.True(reference.DataBytesSent > 8 * Interval, "the copy phase spans several checkpoints");
        long sampleAllowance = Math.Max(16, (int)Math.Ceiling(Size / (double)SyncWorkload.CoarseBlockSize * SyncOptions.DefaultSampleFraction)) * (long)SyncWorkload.CoarseBlockSize;
        var outcomes = new List<string>();
        for (int run = 0; run < runs; run++)
        {
            using var dir = new TempDirectory();
            string sourcePath = SyncDisks.Create(dir, "source", sourceFormat, source);
            string targetPath = SyncDisks.Create(dir, "target", targetFormat, target);
            // Even runs stop after any n-th line (hashing or copying); odd runs after the k-th line of the copy phase. The
            // child waits after each checkpoint's lines: odd runs are killed there; even runs there, or just after it is
            // let go, so the kill lands somewhere in the hashing, copying or checkpointing that follows.
            bool copyPhase = run % 2 == 1;
            int killAfterLines = copyPhase ? random.Next(1, 7) : random.Next(0, 30);
            bool whilePaused = copyPhase || random.Next(2) == 0;
            long hashed = 0, sent = 0;
            bool done = false;
            int lines = 0;
            using (ChildProcess child = ChildProcess.StartDotnet(
                RepoPaths.TestChildDll, "disk-sync", sourcePath, targetPath, dir.File("sync"), dir.File("target.manifest"), Interval.ToString(CultureInfo.InvariantCulture)))
            {
                string? line = null;
                while (lines < killAfterLines && (line = child.ReadLine()) is not null)
                {
                    if (line == "paused")
                    {
                        child.WriteLine("go");
                        continue;
                    }

                    Parse(line, ref hashed, ref sent, ref done);
                    lines += !copyPhase || line.StartsWith("sent ", StringComparison.Ordinal) ? 1 : 0;
                }

                // The rest of that checkpoint's lines, up to where the child waits.
                if (line is not null)
                {
                    while ((line = child.ReadLine()) is not null && line != "paused")
                    {
                        Parse(line, ref hashed, ref sent, ref done);
                    }
                }

                if (!whilePaused)
                {
                    child.WriteLine("go");
                }

                child.Kill();
                while (child.ReadLine() is { } after)
                {
                    if (after != "paused")
                    {
                        Parse(after, ref hashed, ref sent, ref done);
                    }
                }
            }

            // The checkpoint is written before the first byte of the target and deleted only once the sync is complete:
            // when the copy had begun and no checkpoint is left, the child had finished but not yet said so.
            done |= sent > 0 && !File.Exists(dir.File("sync"));
            string context = $"run {run}: killed after {lines} lines, {(whilePaused ? "while it waited" : "once let go")} (durable: hashed {hashed}, sent {sent}, done {done})";
            SyncResult rest = await SyncAsync(dir, sourcePath, targetPath);
            Assert.True(source.AsSpan().SequenceEqual(SyncDisks.ReadAll(targetPath)), $"{context}: the target differs from the source after the rerun");
            Assert.True(rest.DataBytesSent <= reference.DataBytesSent - sent, $"{context}: the rerun sent {rest.DataBytesSent} of {reference.DataBytesSent}");
            if (done)
            {
                // The child finished: the rerun is a new sync, which hashes the source again and sends nothing.
                Assert.Equal(0, rest.DataBytesSent);
            }
            else
            {
                Assert.True(rest.BytesHashed <= reference.BytesHashed - hashed + sampleAllowance, $"{context}: the rerun hashed {rest.BytesHashed} of {reference.BytesHashed}");
            }

            Assert.False(File.Exists(dir.File("sync")), $"{context}: the checkpoint is left after the rerun");
            SyncResult again = await SyncAsync(dir, sourcePath, targetPath);
            Assert.Equal(0, again.DataBytesSent);
            outcomes.Add(done ? "finished" : rest.Resumed ? "resumed copy" : hashed > 0 ? "resumed hashing" : "fresh");
            output.WriteLine($"{context}: {outcomes[^1]}, rerun sent {rest.DataBytesSent} and hashed {rest.BytesHashed}");
        }

        // The random kill points reach the copy phase at least once, not only the hashing.
        Assert.Contains("resumed copy", outcomes);
    }

    /// <summary>
    /// A 32 MiB pair differing by scattered 4 KiB writes, every other 64 KiB of 8 MiB (so the copy spans many ranges and
    /// checkpoints) and a range zero on the source.
    /// </summary>
    private static (byte[] Source, byte[] Target) Pair(Random random)
    {
        byte[] source = new byte[Size];
        random.NextBytes(source.AsSpan(0, 24 << 20));
        byte[] target = (byte[])source.Clone();
        for (int i = 0; i < 200; i++)
        {
            random.NextBytes(target.AsSpan(random.Next(0, (int)(Size / 4096)) * 4096, 4096));
        }

        for (int stripe = 8 << 20; stripe < 24 << 20; stripe += 128 << 10)
        {
            random.NextBytes(target.AsSpan(stripe, 64 << 10));
        }

        source.AsSpan(26 << 20, 1 << 20).Clear();
        return (source, target);
    }

    private static void Parse(string line, ref long hashed, ref long sent, ref bool done)
    {
        string[] parts = line.Split(' ');
        switch (parts[0])
        {
            case "hashed": hashed = long.Parse(parts[1], CultureInfo.InvariantCulture); break;
            case "sent": sent = long.Parse(parts[1], CultureInfo.InvariantCulture); break;
            case "done": done = true; break;
            default: throw new Xunit.Sdk.XunitException($"unexpected line from the child: {line}");
        }
    }

    private static async Task<SyncResult> SyncAsync(TempDirectory dir, string sourcePath, string targetPath)
    {
        using VirtualDisk source = VirtualDisk.Open(sourcePath, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(targetPath);
        return await SyncWorkload.SyncAsync(source, target, dir.File("sync"), dir.File("target.manifest"), Interval);
    }
}
