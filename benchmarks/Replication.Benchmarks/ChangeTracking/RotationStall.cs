using System.Diagnostics;
using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;

namespace Replication.Benchmarks.ChangeTracking;

/// <summary>
/// Rotation stall (issue 3): how long a rotation holds writers. Two writer threads issue 64 KiB writes (flush every 64)
/// into a tracked 256 MiB raw disk, alternately without rotations and while the log is rotated (and released) every
/// 200 ms, three times each. Prints a Markdown table of write latency percentiles for both phases, the time writers
/// were held by each swap (measured inside the lock), and how long each RotateAsync took end to end (seal, fsync, rename,
/// hash, state) while writers went on.
/// </summary>
/// <remarks>dotnet run -c Release --project benchmarks/Replication.Benchmarks -- rotation-stall [seconds-per-phase]</remarks>
public static class RotationStall
{
    private const long Size = 256L << 20;
    private const int WriteSize = 64 << 10;
    private const int Writers = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        string dir = Path.Combine(Path.GetTempPath(), "repl-bench-stall-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "disk.img");
            using (VirtualDisk create = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }))
            {
                byte[] chunk = new byte[1 << 20];
                new Random(1).NextBytes(chunk);
                for (long offset = 0; offset < Size; offset += chunk.Length)
                {
                    create.Write(offset, chunk);
                }

                create.Flush();
            }

            await using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), Path.Combine(dir, "logs"));
            RunPhase(disk, TimeSpan.FromSeconds(1), rotate: false);

            // Alternated, so neither phase has the page cache or the device to itself.
            var quiet = new Phase();
            var rotating = new Phase();
            for (int round = 0; round < 3; round++)
            {
                quiet.Add(RunPhase(disk, TimeSpan.FromSeconds(seconds / 3), rotate: false));
                rotating.Add(RunPhase(disk, TimeSpan.FromSeconds(seconds / 3), rotate: true));
            }

            Console.WriteLine($"Rotation stall, {Environment.ProcessorCount} cores, {Writers} writers of 64 KiB (flush every 64), {seconds:0.#} s per phase, {DateTime.UtcNow:yyyy-MM-dd}.");
            Console.WriteLine();
            Console.WriteLine("| phase | writes | MB/s | p50 µs | p99 µs | p99.9 µs | max µs |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            Console.WriteLine(quiet.Row("no rotation"));
            Console.WriteLine(rotating.Row($"rotating every 200 ms ({rotating.Swaps.Count} rotations)"));
            Console.WriteLine();
            Console.WriteLine("| rotation | median | p99 | max |");
            Console.WriteLine("| --- | --- | --- | --- |");
            Console.WriteLine(Stats("writers held by the swap (lock hold)", rotating.Swaps));
            Console.WriteLine(Stats("RotateAsync end to end (writers running)", rotating.Rotations));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Phase RunPhase(TrackedDisk disk, TimeSpan duration, bool rotate)
    {
        var phase = new Phase();
        var stop = Stopwatch.StartNew();
        var threads = new Thread[Writers];
        var latencies = new List<double>[Writers];
        for (int w = 0; w < Writers; w++)
        {
            int writer = w;
            latencies[w] = new List<double>(1 << 16);
            threads[w] = new Thread(() =>
            {
                byte[] data = new byte[WriteSize];
                new Random(writer).NextBytes(data);
                var random = new Random(100 + writer);
                int i = 0;
                while (stop.Elapsed < duration)
                {
                    long offset = random.NextInt64(0, Size / WriteSize) * WriteSize;
                    long started = Stopwatch.GetTimestamp();
                    disk.Write(offset, data);
                    latencies[writer].Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    if (++i % 64 == 0)
                    {
                        disk.Flush();
                    }
                }
            });
            threads[w].Start();
        }

        while (stop.Elapsed < duration)
        {
            Thread.Sleep(200);
            long started = Stopwatch.GetTimestamp();
            SealedLog sealedLog = rotate
                ? disk.RotateAsync().GetAwaiter().GetResult()
                : null!;
            if (rotate)
            {
                phase.Rotations.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                phase.Swaps.Add(disk.LastSwapDuration.TotalMicroseconds);
                disk.ReleaseAsync(sealedLog.SequenceNumber).GetAwaiter().GetResult();
            }
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        phase.Seconds = stop.Elapsed.TotalSeconds;
        phase.Latencies.AddRange(latencies.SelectMany(l => l));
        if (!rotate)
        {
            SealedLog sealedLog = disk.RotateAsync().GetAwaiter().GetResult();
            disk.ReleaseAsync(sealedLog.SequenceNumber).GetAwaiter().GetResult();
        }

        return phase;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        List<double> sorted = [.. values.Order()];
        return sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
    }

    private static string Stats(string what, List<double> values) =>
        string.Create(CultureInfo.InvariantCulture, $"| {what} | {Percentile(values, 0.5):0.0} µs | {Percentile(values, 0.99):0.0} µs | {values.DefaultIfEmpty().Max():0.0} µs |");

    private sealed class Phase
    {
        public List<double> Latencies { get; } = [];

        public List<double> Swaps { get; } = [];

        public List<double> Rotations { get; } = [];

        public double Seconds { get; set; }

        public void Add(Phase other)
        {
            Latencies.AddRange(other.Latencies);
            Swaps.AddRange(other.Swaps);
            Rotations.AddRange(other.Rotations);
            Seconds += other.Seconds;
        }

        public string Row(string name) => string.Create(
            CultureInfo.InvariantCulture,
            $"| {name} | {Latencies.Count} | {Latencies.Count * (double)WriteSize / Seconds / 1e6:0} | {Percentile(Latencies, 0.5):0} | {Percentile(Latencies, 0.99):0} | {Percentile(Latencies, 0.999):0} | {Latencies.DefaultIfEmpty().Max():0} |");
    }
}
