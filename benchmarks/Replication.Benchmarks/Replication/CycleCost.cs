using System.Diagnostics;
using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.Benchmarks.Replication;

/// <summary>
/// PERFORMANCE.md P12: what a steady-state delta cycle costs per GiB written through a tracked disk, in bytes sent to
/// the site and CPU seconds, against the least that must cross (the coalesced changed bytes). Two workloads: distinct
/// 64 KiB blocks written once, and a region whose every block is overwritten ten times within the cycle (coalescing
/// must ship a tenth of what was written).
/// </summary>
/// <remarks>
/// <c>cycle-cost [disk-MiB] [written-MiB] [rounds]</c>: a raw disk protected to a local site in a temp folder; each round
/// writes the workload, flushes, and times one cycle (<see cref="ReplicationEngine.ReplicateAsync"/>). Medians over the
/// rounds are printed as a Markdown table.
/// </remarks>
internal static class CycleCost
{
    public static async Task<int> RunAsync(string[] args)
    {
        long diskMiB = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
        long writtenMiB = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 256;
        int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
        if (diskMiB < 16 || writtenMiB < 10 || writtenMiB * 2 > diskMiB || rounds < 1)
        {
            Console.Error.WriteLine("usage: cycle-cost [disk-MiB >= 16] [written-MiB >= 10, at most half the disk] [rounds >= 1]");
            return 2;
        }

        string work = Path.Combine(Path.GetTempPath(), "repl-cycle-cost-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string path = Path.Combine(work, "disk.raw");
            using (VirtualDisk created = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = diskMiB << 20 }))
            {
            }

            await using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs");
            var site = new LocalReplicationSite(Path.Combine(work, "site"));
            var engine = new ReplicationEngine();
            var machine = new ProtectedMachine(site, "bench", [disk]);
            await engine.ProtectAsync(new ProtectionRequest { Machine = machine, CreateSite = true, Policy = new ReplicationPolicy { RetentionCount = 2 } });

            var random = new Random(42);
            var rows = new List<string>();
            foreach ((string name, int passes) in new[] { ("distinct 64 KiB blocks written once", 1), ("every block overwritten 10 times", 10) })
            {
                var samples = new List<(long Written, ReplicationRunResult Result, double Cpu, double Wall)>();
                for (int round = 0; round < rounds; round++)
                {
                    long bytes = await WriteAsync(disk, random, (writtenMiB << 20) / passes, passes);
                    TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    long started = Stopwatch.GetTimestamp();
                    ReplicationRunResult result = await engine.ReplicateAsync(machine);
                    double wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
                    samples.Add((bytes, result, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, wall));
                }

                (long written, ReplicationRunResult median, double cpuSeconds, double wallSeconds) = samples.OrderBy(s => s.Wall).ElementAt(samples.Count / 2);
                double gib = written / (double)(1L << 30);
                long allowance = (long)(1.01 * median.CoalescedBytes) + (64 << 10);
                rows.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| P12 | {name} | {written >> 20} MiB | {median.LoggedBytes >> 20} MiB | {median.CoalescedBytes >> 20} MiB | {median.BytesSent >> 20} MiB | {median.BytesSent / (double)median.CoalescedBytes:0.000} (≤ 1.01 + 64 KiB: {(median.BytesSent <= allowance ? "met" : "missed")}) | {median.BytesSent / (double)written:0.000} | {cpuSeconds / gib:0.00} | {wallSeconds:0.00} s |"));
            }

            Console.WriteLine($"cycle-cost: {diskMiB} MiB raw disk, {writtenMiB} MiB written per cycle, local site, medians of {rounds} cycles");
            Console.WriteLine();
            Console.WriteLine("| id | workload | written | logged | coalesced | sent | sent ÷ coalesced | sent ÷ written | CPU s per GiB written | cycle wall time |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            rows.ForEach(Console.WriteLine);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> of distinct 64 KiB blocks, <paramref name="passes"/> times over, then flushes; returns the bytes written.</summary>
    private static async Task<long> WriteAsync(TrackedDisk disk, Random random, long bytes, int passes)
    {
        const int Block = 64 << 10;
        long blocks = bytes / Block;
        long[] offsets = new long[blocks];
        long slots = disk.VirtualSize / Block;
        var used = new HashSet<long>();
        for (long i = 0; i < blocks; i++)
        {
            long slot;
            do
            {
                slot = random.NextInt64(slots);
            }
            while (!used.Add(slot));
            offsets[i] = slot * Block;
        }

        byte[] data = new byte[Block];
        long written = 0;
        for (int pass = 0; pass < passes; pass++)
        {
            foreach (long offset in offsets)
            {
                random.NextBytes(data);
                await disk.WriteAsync(offset, data);
                written += Block;
            }
        }

        await disk.FlushAsync();
        return written;
    }
}
