using System.Globalization;
using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.TestChild;

/// <summary>
/// disk-sync &lt;source&gt; &lt;target&gt; &lt;checkpoint&gt; &lt;targetManifest&gt; &lt;checkpointInterval&gt; &lt;delayMs&gt;: resyncs the
/// target from the source, printing "hashed N" / "sent N" after each durable checkpoint (N: bytes a resumed run will not
/// hash / send again) and "done" at the end, pausing delayMs after each line to widen the windows the parent kills in.
/// </summary>
public static class SyncWorkload
{
    public const int CoarseBlockSize = 1 << 20;
    public const int FineBlockSize = 4096;

    public static ResyncOptions Options(string checkpoint, string targetManifest, long interval) =>
        new(new ManifestOptions(CoarseBlockSize, FineBlockSize, 2), targetManifest, checkpoint, checkpointInterval: interval);

    public static int Run(string[] args)
    {
        long interval = long.Parse(args[5], CultureInfo.InvariantCulture);
        int delay = int.Parse(args[6], CultureInfo.InvariantCulture);
        using VirtualDisk source = VirtualDisk.Open(args[1], DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(args[2]);
        long hashed = 0, sent = 0;
        var progress = new Inline(p =>
        {
            if (!p.IsCheckpoint)
            {
                return;
            }

            if (p.DurableBytesHashed != hashed)
            {
                hashed = p.DurableBytesHashed;
                Console.WriteLine($"hashed {hashed}");
            }

            if (p.DurableDataBytesSent != sent)
            {
                sent = p.DurableDataBytesSent;
                Console.WriteLine($"sent {sent}");
            }

            Console.Out.Flush();
            Thread.Sleep(delay);
        });
        ResyncResult result = DiskResync.ResyncAsync(source, target, Options(args[3], args[4], interval), progress).GetAwaiter().GetResult();
        Console.WriteLine($"done {result.DataBytesSent}");
        return 0;
    }

    private sealed class Inline(Action<ResyncProgress> action) : IProgress<ResyncProgress>
    {
        private readonly Lock _lock = new();

        public void Report(ResyncProgress value)
        {
            lock (_lock)
            {
                action(value);
            }
        }
    }
}
