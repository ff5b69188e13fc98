using System.Diagnostics;
using System.Globalization;
using System.Net;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// P7, P8, P10 side by side in one run against the Azurite named by REPL_AZURITE_CONNECTION_STRING:
/// <c>dotnet run -c Release --project benchmarks/Replication.Benchmarks -- seed-compare SIZE_MIB RUNS</c>.
/// Seeds a half-zero image with the pipeline (concurrency 8 and 1) and with the obvious SDK loop (one 4 MiB
/// UploadPagesAsync at a time, every chunk), directly and through a proxy adding 20 ms per request, alternating,
/// and prints a Markdown table of medians.
/// </summary>
internal static class SeedComparison
{
    public static async Task<int> RunAsync(string[] args)
    {
        long size = long.Parse(args[1], CultureInfo.InvariantCulture) << 20;
        int runs = int.Parse(args[2], CultureInfo.InvariantCulture);
        string connectionString = Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING") ?? throw new InvalidOperationException("REPL_AZURITE_CONNECTION_STRING is not set.");
        string dir = Path.Combine(Path.GetTempPath(), "repl-seed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string image = Path.Combine(dir, "half-zero.img");
        long nonZeroPages = HalfZeroImage.Create(image, size);
        var endpoint = new Uri(connectionString.Split(';').First(p => p.StartsWith("BlobEndpoint=", StringComparison.Ordinal))["BlobEndpoint=".Length..]);
        await using var proxy = new LatencyProxy(new IPEndPoint(IPAddress.Loopback, endpoint.Port), TimeSpan.FromMilliseconds(20));
        string proxied = connectionString.Replace($":{endpoint.Port}/", $":{proxy.Port}/", StringComparison.Ordinal);
        var service = new BlobServiceClient(connectionString);
        BlobContainerClient container = service.GetBlobContainerClient("bench" + Guid.NewGuid().ToString("N")[..12]);
        await container.CreateAsync();

        var cases = new (string Name, string Cs, Func<string, string, Task<(long Sent, long Requests, long Allocated)>> Run)[]
        {
            ("pipeline, concurrency 8", connectionString, (cs, blob) => OursAsync(cs, container.Name, blob, image, 8)),
            ("SDK loop, 4 MiB sequential", connectionString, (cs, blob) => LoopAsync(cs, container.Name, blob, image)),
            ("pipeline, concurrency 8, +20 ms/request", proxied, (cs, blob) => OursAsync(cs, container.Name, blob, image, 8)),
            ("pipeline, concurrency 1, +20 ms/request", proxied, (cs, blob) => OursAsync(cs, container.Name, blob, image, 1)),
            ("SDK loop, +20 ms/request", proxied, (cs, blob) => LoopAsync(cs, container.Name, blob, image)),
        };
        var times = cases.Select(_ => new List<double>()).ToArray();
        var last = new (long Sent, long Requests, long Allocated)[cases.Length];
        for (int run = 0; run < runs; run++)
        {
            for (int i = 0; i < cases.Length; i++)
            {
                string blob = $"r{run}-{i}.vhd";
                var watch = Stopwatch.StartNew();
                last[i] = await cases[i].Run(cases[i].Cs, blob);
                times[i].Add(watch.Elapsed.TotalSeconds);
                await container.GetBlobClient(blob).DeleteIfExistsAsync(Azure.Storage.Blobs.Models.DeleteSnapshotsOption.IncludeSnapshots);
            }
        }

        await container.DeleteAsync();
        Directory.Delete(dir, recursive: true);
        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        Console.WriteLine($"Seed of a {size >> 20} MiB half-zero image into Azurite, median of {runs} alternating runs, {Environment.ProcessorCount} cores. " +
            $"Non-zero 512-byte pages: {nonZeroPages} ({nonZeroPages * 512} bytes).");
        Console.WriteLine();
        Console.WriteLine("| case | seconds | MB/s of image | bytes uploaded | requests | allocated per 4 MiB of image |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        for (int i = 0; i < cases.Length; i++)
        {
            double s = Median(times[i]);
            Console.WriteLine(FormattableString.Invariant(
                $"| {cases[i].Name} | {s:0.00} | {size / s / 1e6:0.0} | {last[i].Sent} | {last[i].Requests} | {last[i].Allocated / (double)(size / (4 << 20)) / 1024:0.0} KiB |"));
        }

        // Rows in benchmarks/compare.sh's table, picked up by the script.
        double c8 = Median(times[0]), loop = Median(times[1]), c8Proxy = Median(times[2]), c1Proxy = Median(times[3]), loopProxy = Median(times[4]);
        Console.WriteLine(FormattableString.Invariant(
            $"ROW | P7 | seed {size >> 20} MiB half-zero image into Azurite, concurrency 8 | {c8:0.00} s | SDK loop (4 MiB UploadPagesAsync, sequential) {loop:0.00} s | {c8 / loop:0.00} | ≤ 0.7 | {last[0].Sent} vs {last[1].Sent} B (non-zero pages: {nonZeroPages * 512} B) | — |"));
        Console.WriteLine(FormattableString.Invariant(
            $"ROW | P8 | same seed through a proxy adding 20 ms per request: throughput concurrency 8 ÷ concurrency 1 | {c8Proxy:0.00} s | concurrency 1 {c1Proxy:0.00} s; SDK loop {loopProxy:0.00} s | {c1Proxy / c8Proxy:0.00}× (vs SDK loop {loopProxy / c8Proxy:0.00}×) | ≥ 5× | — | — |"));
        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant($"P7 time ratio (pipeline c8 / SDK loop): {Median(times[0]) / Median(times[1]):0.00}; P8 throughput ratio through the proxy (c8 / c1): {Median(times[3]) / Median(times[2]):0.00}, (c8 / SDK loop): {Median(times[4]) / Median(times[2]):0.00}."));
        return 0;
    }

    private static async Task<(long, long, long)> OursAsync(string cs, string container, string blob, string image, int concurrency)
    {
        var target = new AzurePageBlobTarget(cs, container, blob);
        using VirtualDisk disk = VirtualDisk.Open(image, DiskOpenOptions.ReadOnlyAccess);
        bool created = await target.CreateReplicaAsync(disk.VirtualSize);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        SyncResult result = await new DiskSynchronizer().SeedAsync(
            disk, writer, options: new SyncOptions { Transfer = new TransferOptions { MaxConcurrency = concurrency }, DestinationKnownZero = created });
        return (result.DataBytesSent, result.Transfer!.Requests, GC.GetTotalAllocatedBytes(precise: true) - before);
    }

    /// <summary>The obvious loop: read 4 MiB, upload it, next.</summary>
    private static async Task<(long, long, long)> LoopAsync(string cs, string container, string blob, string image)
    {
        PageBlobClient page = new BlobServiceClient(cs).GetBlobContainerClient(container).GetPageBlobClient(blob);
        long size = new FileInfo(image).Length;
        await page.CreateAsync(size + 512);
        byte[] buffer = new byte[4 << 20];
        long before = GC.GetTotalAllocatedBytes(precise: true);
        long requests = 0;
        using FileStream file = File.OpenRead(image);
        for (long offset = 0; offset < size; offset += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, size - offset);
            await file.ReadExactlyAsync(buffer.AsMemory(0, n));
            await page.UploadPagesAsync(new MemoryStream(buffer, 0, n), offset);
            requests++;
        }

        return (size, requests, GC.GetTotalAllocatedBytes(precise: true) - before);
    }
}
