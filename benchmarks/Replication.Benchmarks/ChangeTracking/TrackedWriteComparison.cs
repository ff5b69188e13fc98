using System.Diagnostics;
using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.Benchmarks.ChangeTracking;

/// <summary>
/// PERFORMANCE.md P4 measured side by side: the operation of <see cref="TrackedWriteBenchmarks"/> (1024 writes of
/// 64 KiB, a flush every 64) run on the bare disk and through a TrackedDisk alternately, round after round, so drift of a
/// shared machine hits both alike. Prints a Markdown table of medians and the throughput ratio (bare time / tracked
/// time; 0.5 is the limit, every byte being written twice). Between rounds, not timed, the tracked disk rotates and
/// releases its log, as a replication cycle would.
/// </summary>
/// <remarks>dotnet run -c Release --project benchmarks/Replication.Benchmarks -- tracked-vs-bare [rounds] [log-buffer-KiB] [preallocation-MiB]</remarks>
public static class TrackedWriteComparison
{
    private const long Size = 256L << 20;
    private const int WriteSize = 64 << 10;
    private const int Writes = 1024;
    private const int FlushEvery = 64;

    public static async Task<int> RunAsync(string[] args)
    {
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
        int bufferKiB = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : HrlWriterOptions.DefaultBufferSize >> 10;
        long preallocation = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) << 20 : TrackedDiskOptions.DefaultLogPreallocation;
        string dir = Path.Combine(Path.GetTempPath(), "repl-bench-p4-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            byte[] data = new byte[WriteSize];
            new Random(1).NextBytes(data);
            Console.WriteLine($"P4 side by side: {rounds} alternating rounds of {Writes} x 64 KiB writes (flush every {FlushEvery}), log buffer {bufferKiB} KiB, log preallocation {preallocation >> 20} MiB, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}.");
            Console.WriteLine();
            Console.WriteLine("| pattern | bare (median) | tracked (median) | bare MB/s | tracked MB/s | throughput ratio | target |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            foreach (string pattern in new[] { "sequential", "random" })
            {
                using VirtualDisk bare = Filled(dir, pattern + "-bare.img");
                await using TrackedDisk tracked = TrackedDisk.Open(Filled(dir, pattern + "-tracked.img"), Path.Combine(dir, pattern + "-logs"), new TrackedDiskOptions { LogOptions = new HrlWriterOptions { BufferSize = bufferKiB << 10 }, LogPreallocation = preallocation });
                var random = new Random(2);
                long[] offsets = pattern == "sequential"
                    ? [.. Enumerable.Range(0, Writes).Select(i => (long)i * WriteSize)]
                    : [.. Enumerable.Range(0, Writes).Select(_ => random.NextInt64(0, Size / WriteSize) * WriteSize)];
                var bareTimes = new List<double>();
                var trackedTimes = new List<double>();
                for (int round = -2; round < rounds; round++)
                {
                    SealedLog log = await tracked.RotateAsync();
                    await tracked.ReleaseAsync(log.SequenceNumber);
                    double b;
                    double t;
                    if (round % 2 == 0)
                    {
                        b = Run(bare, offsets, data);
                        t = Run(tracked, offsets, data);
                    }
                    else
                    {
                        t = Run(tracked, offsets, data);
                        b = Run(bare, offsets, data);
                    }

                    if (round >= 0)
                    {
                        bareTimes.Add(b);
                        trackedTimes.Add(t);
                    }
                }

                double bareMedian = Median(bareTimes);
                double trackedMedian = Median(trackedTimes);
                double megabytes = Writes * (double)WriteSize / 1e6;
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {pattern} | {bareMedian:0.0} ms | {trackedMedian:0.0} ms | {megabytes / bareMedian * 1000:0} | {megabytes / trackedMedian * 1000:0} | {bareMedian / trackedMedian:0.00} | ≥ 0.45 |"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Run(IVirtualDisk disk, long[] offsets, byte[] data)
    {
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < offsets.Length; i++)
        {
            disk.Write(offsets[i], data);
            if (i % FlushEvery == FlushEvery - 1)
            {
                disk.Flush();
            }
        }

        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static VirtualDisk Filled(string dir, string name)
    {
        VirtualDisk disk = VirtualDisk.Create(Path.Combine(dir, name), new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size });
        byte[] chunk = new byte[1 << 20];
        new Random(3).NextBytes(chunk);
        for (long offset = 0; offset < Size; offset += chunk.Length)
        {
            disk.Write(offset, chunk);
        }

        disk.Flush();
        return disk;
    }
}
