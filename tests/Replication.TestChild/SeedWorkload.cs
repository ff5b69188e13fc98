using System.Globalization;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Targets.Local;
using Replication.Core.Transfer;

namespace Replication.TestChild;

/// <summary>
/// seed &lt;source&gt; &lt;checkpoint&gt; &lt;maxBytesPerSecond&gt; local &lt;dir&gt; | azure &lt;container&gt;: seeds the target from the
/// source with a checkpoint saved every 50 ms, printing "checkpoint OFFSET SENT" each time the durable checkpoint
/// moves and "done SENT RESUMEDFROM" at the end. The parent kills it at random points and runs it again. Azure uses
/// REPL_AZURITE_CONNECTION_STRING.
/// </summary>
public static class SeedWorkload
{
    public static async Task<int> RunAsync(string[] args)
    {
        string source = args[1];
        string checkpoint = args[2];
        long rate = long.Parse(args[3], CultureInfo.InvariantCulture);
        IReplicaTarget target = args[4] == "local"
            ? new LocalDirectoryTarget(args[5], new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw })
            : new AzurePageBlobTarget(Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")!, args[5], "replica.vhd");
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        bool created = await target.CreateReplicaAsync(disk.VirtualSize);
        await using IReplicaWriter writer = await target.AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = true });
        long reported = -1;
        var progress = new Reporter(p =>
        {
            if (p.CheckpointedUpTo > Interlocked.Read(ref reported))
            {
                Interlocked.Exchange(ref reported, p.CheckpointedUpTo);
                Console.WriteLine($"checkpoint {p.CheckpointedUpTo} {p.BytesSent}");
                Console.Out.Flush();
            }
        });
        TransferResult result = await TransferPipeline.SeedAsync(disk, writer, new TransferOptions
        {
            MaxConcurrency = 4,
            MaxBytesPerSecond = rate,
            DestinationKnownZero = created,
            CheckpointPath = checkpoint,
            CheckpointInterval = TimeSpan.FromMilliseconds(50),
            ProgressInterval = TimeSpan.Zero,
            Progress = progress,
        });
        Console.WriteLine($"done {result.BytesSent} {result.ResumedFrom}");
        return 0;
    }

    private sealed class Reporter(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
