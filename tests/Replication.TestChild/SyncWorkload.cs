using System.Globalization;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.TestChild;

/// <summary>
/// disk-sync &lt;source&gt; &lt;target&gt; &lt;checkpoint&gt; &lt;targetManifest&gt; &lt;checkpointInterval&gt;: resyncs the target from the
/// source, printing "hashed N" / "sent N" after each durable checkpoint (N: bytes a resumed run will not hash / send
/// again) and "done" at the end. After the lines of a checkpoint it prints "paused" and waits for a line on standard
/// input (or its end) before going on, so the parent can kill it exactly there, or let it go and kill it in the work
/// that follows, however busy the machine is.
/// </summary>
public static class SyncWorkload
{
    public const int CoarseBlockSize = 1 << 20;
    public const int FineBlockSize = 4096;

    public static SyncOptions Options(string checkpoint, long interval) => new()
    {
        Manifest = new ManifestOptions { CoarseBlockSize = CoarseBlockSize, FineBlockSize = FineBlockSize, MaxDegreeOfParallelism = 2 },
        CheckpointPath = checkpoint,
        CheckpointBytes = interval,
    };

    /// <summary>The resync the crash test runs, in the child and again in the parent: the same options, the same stored manifest.</summary>
    public static Task<SyncResult> SyncAsync(IVirtualDisk source, IVirtualDisk target, string checkpoint, string targetManifest, long interval, IProgress<SyncProgress>? progress = null) =>
        new DiskSynchronizer().ResyncAsync(source, target, new ManifestFile(targetManifest, target), Options(checkpoint, interval), progress);

    public static int Run(string[] args)
    {
        long interval = long.Parse(args[5], CultureInfo.InvariantCulture);
        using VirtualDisk source = VirtualDisk.Open(args[1], DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(args[2]);
        long hashed = 0, sent = 0;
        var progress = new Inline(p =>
        {
            if (!p.IsCheckpoint)
            {
                return;
            }

            bool printed = false;
            if (p.DurableBytesHashed != hashed)
            {
                hashed = p.DurableBytesHashed;
                Console.WriteLine($"hashed {hashed}");
                printed = true;
            }

            if (p.DurableDataBytesSent != sent)
            {
                sent = p.DurableDataBytesSent;
                Console.WriteLine($"sent {sent}");
                printed = true;
            }

            if (printed)
            {
                Console.WriteLine("paused");
                Console.Out.Flush();
                Console.In.ReadLine();
            }
        });
        SyncResult result = SyncAsync(source, target, args[3], args[4], interval, progress).GetAwaiter().GetResult();
        Console.WriteLine($"done {result.DataBytesSent}");
        return 0;
    }

    private sealed class Inline(Action<SyncProgress> action) : IProgress<SyncProgress>
    {
        private readonly Lock _lock = new();

        public void Report(SyncProgress value)
        {
            lock (_lock)
            {
                action(value);
            }
        }
    }
}
