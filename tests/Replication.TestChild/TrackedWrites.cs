using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.TestChild;

/// <summary>
/// <c>tracked-writes &lt;disk&gt; &lt;logs&gt; &lt;seed&gt; &lt;count&gt; &lt;maxLength&gt; &lt;flushEvery&gt; &lt;rotateEvery&gt;</c>:
/// performs the workload's writes through a TrackedDisk, printing "w N" before write N is issued, "ack N" once a flush
/// made every write up to N durable, "rotating" / "rotated SEQ HASH N" around each rotation, and "closing" / "done"
/// around the clean close. The parent kills this
/// process with SIGKILL at a random point and checks what survived.
/// </summary>
public static class TrackedWrites
{
    /// <summary>Options the parent opens the disk with too, so recovery reads the same layout.</summary>
    public static TrackedDiskOptions Options { get; } = new()
    {
        LogOptions = new HrlWriterOptions { MetadataSize = 1024, BufferSize = 16384 },
        ResyncThreshold = 50,
        WriteIntentRegionSize = 256 << 10,
        LogPreallocation = 1 << 20,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        string diskPath = args[1];
        string logs = args[2];
        int seed = int.Parse(args[3], CultureInfo.InvariantCulture);
        int count = int.Parse(args[4], CultureInfo.InvariantCulture);
        int maxLength = int.Parse(args[5], CultureInfo.InvariantCulture);
        int flushEvery = int.Parse(args[6], CultureInfo.InvariantCulture);
        int rotateEvery = int.Parse(args[7], CultureInfo.InvariantCulture);
        TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(diskPath), logs, Options);
        Console.WriteLine("ready");
        for (int i = 0; i < count; i++)
        {
            (long offset, byte[] data) = CrashWorkload.Write(seed, i, disk.VirtualSize, maxLength);
            Console.WriteLine($"w {i}");
            if (i % 2 == 0)
            {
                disk.Write(offset, data);
            }
            else
            {
                await disk.WriteAsync(offset, data);
            }

            if (i % flushEvery == flushEvery - 1)
            {
                await disk.FlushAsync();
                Console.WriteLine($"ack {i}");
            }

            if (i % rotateEvery == rotateEvery - 1)
            {
                Console.WriteLine("rotating");
                SealedLog log = await disk.RotateAsync();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rotated {log.SequenceNumber} {log.Hash:x32} {i}"));
            }
        }

        // "done" only once the close is durable: a kill before it is a crash like any other; one after "closing" may
        // find the close complete or not.
        Console.WriteLine("closing");
        await disk.DisposeAsync();
        Console.WriteLine("done");
        return 0;
    }
}
