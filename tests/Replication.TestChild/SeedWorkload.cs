using System.Globalization;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Targets.Local;
using Replication.Core.Transfer;

namespace Replication.TestChild;

/// <summary>
/// seed &lt;source&gt; &lt;checkpoint&gt; &lt;maxBytesPerSecond&gt; local &lt;dir&gt; | azure &lt;container&gt; &lt;pauseAfter&gt;: seeds the
/// target from the source with a checkpoint saved every 50 ms, printing "checkpoint OFFSET SENT" each time this run's
/// durable checkpoint moves past where it resumed, and "done SENT RESUMEDFROM" at the end. After the pauseAfter-th
/// checkpoint line (0: never) every worker stops at its next progress report and waits to be killed, so the seed cannot
/// finish before the parent's SIGKILL lands; the other workers' requests in flight carry on until then. Azure uses
/// REPL_AZURITE_CONNECTION_STRING.
/// </summary>
public static class SeedWorkload
{
    public static async Task<int> RunAsync(string[] args)
    {
        string source = args[1];
        string checkpoint = args[2];
        long rate = long.Parse(args[3], CultureInfo.InvariantCulture);
        int pauseAfter = int.Parse(args[6], CultureInfo.InvariantCulture);
        IReplicaTarget target = args[4] == "local"
            ? new LocalDirectoryTarget(args[5], new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw })
            : new AzurePageBlobTarget(Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")!, args[5], "replica.vhd");
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        bool created = await target.CreateReplicaAsync(disk.VirtualSize);
        await using IReplicaWriter writer = await target.AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = true });
        long reported = -1;
        int printed = 0;
        bool paused = false;
        var gate = new Lock();
        using var killed = new ManualResetEventSlim(false); // never set: this process ends by the parent's SIGKILL
        var progress = new Reporter(p =>
        {
            lock (gate)
            {
                if (!paused && p.IsCheckpoint && p.CheckpointedUpTo > p.ResumedFrom && p.CheckpointedUpTo > reported)
                {
                    reported = p.CheckpointedUpTo;
                    Console.WriteLine($"checkpoint {p.CheckpointedUpTo} {p.BytesSent}");
                    Console.Out.Flush();
                    paused = ++printed == pauseAfter;
                }

                if (!paused)
                {
                    return;
                }
            }

            killed.Wait();
        });
        SyncResult result = await new DiskSynchronizer().SeedAsync(
            disk,
            writer,
            options: new SyncOptions
            {
                Transfer = new TransferOptions
                {
                    MaxConcurrency = 4,
                    MaxWriteSize = 512 * 1024, // many pieces, so the watermark moves (and a checkpoint is reported) often
                    MaxBytesPerSecond = rate,
                    CheckpointInterval = TimeSpan.FromMilliseconds(50),
                    ProgressInterval = TimeSpan.Zero,
                },
                DestinationKnownZero = created,
                CheckpointPath = checkpoint,
            },
            progress: progress);
        Console.WriteLine($"done {result.DataBytesSent} {result.Transfer!.ResumedFrom}");
        return 0;
    }

    private sealed class Reporter(Action<SyncProgress> report) : IProgress<SyncProgress>
    {
        public void Report(SyncProgress value) => report(value);
    }
}
