using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// P7, P8 and the seed's P9 side by side in one run against the Azurite named by REPL_AZURITE_CONNECTION_STRING:
/// <c>dotnet run -c Release --project benchmarks/Replication.Benchmarks -- seed-compare SIZE_MIB RUNS REPL</c>, where
/// REPL is the published CLI (benchmarks/compare.sh passes the one it measures). Seeds a half-zero image with
/// <c>repl upload</c> (concurrency 8 and 1) and with the obvious SDK loop (one 4 MiB UploadPagesAsync at a time, every
/// chunk, <c>sdk-loop</c> of this program), each a process of its own under /usr/bin/time (peak memory, CPU seconds),
/// alternating, directly and through <see cref="LatencyProxy"/> (20 ms per request, 8 MB/s per connection), and prints
/// a Markdown table of medians and the rows of compare.sh's table.
/// </summary>
internal static class SeedComparison
{
    private const int ProxyDelayMilliseconds = 20;
    private const long ProxyBytesPerSecond = 8_000_000;

    private sealed record Run(double Seconds, double CpuSeconds, long PeakKiB, long Uploaded, long Requests);

    public static async Task<int> RunAsync(string[] args)
    {
        long size = long.Parse(args[1], CultureInfo.InvariantCulture) << 20;
        int runs = int.Parse(args[2], CultureInfo.InvariantCulture);
        string repl = Path.GetFullPath(args[3]);
        string connectionString = Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING") ?? throw new InvalidOperationException("REPL_AZURITE_CONNECTION_STRING is not set.");
        string dir = Path.Combine(Path.GetTempPath(), "repl-seed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string image = Path.Combine(dir, "half-zero.img");
        long nonZeroPages = HalfZeroImage.Create(image, size);
        var endpoint = new Uri(connectionString.Split(';').First(p => p.StartsWith("BlobEndpoint=", StringComparison.Ordinal))["BlobEndpoint=".Length..]);
        await using var proxy = new LatencyProxy(new IPEndPoint(IPAddress.Loopback, endpoint.Port), TimeSpan.FromMilliseconds(ProxyDelayMilliseconds), ProxyBytesPerSecond);
        string proxied = connectionString.Replace($":{endpoint.Port}/", $":{proxy.Port}/", StringComparison.Ordinal);
        var service = new BlobServiceClient(connectionString);
        BlobContainerClient container = service.GetBlobContainerClient("bench" + Guid.NewGuid().ToString("N")[..12]);
        await container.CreateAsync();

        string link = $"+{ProxyDelayMilliseconds} ms/request, {ProxyBytesPerSecond / 1e6:0} MB/s per connection";
        var cases = new (string Name, string Cs, Func<string, string[]> Command)[]
        {
            ("repl upload, concurrency 8", connectionString, blob => Ours(repl, container.Name, blob, image, dir, 8)),
            ("SDK loop, 4 MiB sequential", connectionString, blob => Loop(container.Name, blob, image)),
            ($"repl upload, concurrency 8, {link}", proxied, blob => Ours(repl, container.Name, blob, image, dir, 8)),
            ($"repl upload, concurrency 1, {link}", proxied, blob => Ours(repl, container.Name, blob, image, dir, 1)),
            ($"SDK loop, {link}", proxied, blob => Loop(container.Name, blob, image)),
        };
        var results = cases.Select(_ => new List<Run>()).ToArray();
        for (int run = 0; run < runs; run++)
        {
            for (int i = 0; i < cases.Length; i++)
            {
                string blob = $"r{run}-{i}.vhd";
                results[i].Add(await MeasureAsync(cases[i].Command(blob), cases[i].Cs, dir));
                await container.GetBlobClient(blob).DeleteIfExistsAsync(Azure.Storage.Blobs.Models.DeleteSnapshotsOption.IncludeSnapshots);
            }
        }

        await container.DeleteAsync();
        Directory.Delete(dir, recursive: true);
        static double Median(IEnumerable<double> values)
        {
            double[] sorted = [.. values.Order()];
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var m = results.Select(r => (Seconds: Median(r.Select(x => x.Seconds)), Cpu: Median(r.Select(x => x.CpuSeconds)),
            PeakMiB: Median(r.Select(x => (double)x.PeakKiB)) / 1024, Last: r[^1])).ToArray();
        Console.WriteLine($"Seed of a {size >> 20} MiB half-zero image into Azurite, median of {runs} alternating runs, {Environment.ProcessorCount} cores. " +
            $"Non-zero 512-byte pages: {nonZeroPages} ({nonZeroPages * 512} bytes).");
        Console.WriteLine();
        Console.WriteLine("| case | seconds | MB/s of image | bytes uploaded | requests | CPU s (user+sys) | peak memory |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        for (int i = 0; i < cases.Length; i++)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"| {cases[i].Name} | {m[i].Seconds:0.00} | {size / m[i].Seconds / 1e6:0.0} | {m[i].Last.Uploaded} | {m[i].Last.Requests} | {m[i].Cpu:0.00} | {m[i].PeakMiB:0} MiB |"));
        }

        // Rows in benchmarks/compare.sh's table, picked up by the script. P8 is a throughput ratio: concurrency 8 ÷ 1.
        var (c8, loop, c8Link, c1Link, loopLink) = (m[0], m[1], m[2], m[3], m[4]);
        string Cpu(int a, int b) => FormattableString.Invariant($"{m[a].Cpu:0.00} vs {m[b].Cpu:0.00} s");
        string Mem(int a, int b) => FormattableString.Invariant($"{m[a].PeakMiB:0} MiB vs {m[b].PeakMiB:0} MiB");
        Console.WriteLine(FormattableString.Invariant(
            $"ROW | P7 | seed {size >> 20} MiB half-zero image into Azurite, concurrency 8 | {c8.Seconds:0.00} s | SDK loop (4 MiB UploadPagesAsync, sequential) {loop.Seconds:0.00} s | {c8.Seconds / loop.Seconds:0.00} | ≤ 0.7 | {c8.Last.Uploaded} vs {loop.Last.Uploaded} B (non-zero pages: {nonZeroPages * 512} B) | {Mem(0, 1)} | {Cpu(0, 1)} |"));
        Console.WriteLine(FormattableString.Invariant(
            $"ROW | P8 | same seed through a proxy adding {ProxyDelayMilliseconds} ms per request and limiting each connection's upload to {ProxyBytesPerSecond / 1e6:0} MB/s: concurrency 8 {size / c8Link.Seconds / 1e6:0.0} MB/s of image vs 1 {size / c1Link.Seconds / 1e6:0.0} MB/s (Azurite's own ceiling, concurrency 8 direct: {size / c8.Seconds / 1e6:0.0} MB/s; SDK loop through the proxy {loopLink.Seconds:0.00} s) | {c8Link.Seconds:0.00} s | concurrency 1 {c1Link.Seconds:0.00} s | {c1Link.Seconds / c8Link.Seconds:0.00}× (throughput) | ≥ 5× | — | {Mem(2, 3)} | {Cpu(2, 3)} |"));
        Console.WriteLine(FormattableString.Invariant(
            $"ROW | P9 | peak memory of a seed (repl upload, concurrency 8, {size >> 20} MiB half-zero image into Azurite) | {c8.Seconds:0.00} s | — | — | ≤ 8 × 4 MiB + 100 MiB | {c8.Last.Uploaded} B | {c8.PeakMiB:0} MiB | {c8.Cpu:0.00} s |"));
        return 0;
    }

    private static string[] Ours(string repl, string container, string blob, string image, string dir, int concurrency) =>
        [repl, "upload", image, "--container", container, "--blob", blob, "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
            "--checkpoint", Path.Combine(dir, blob + ".checkpoint"), "--json"];

    /// <summary>This program again, as <c>sdk-loop</c>: a process of its own like ours.</summary>
    private static string[] Loop(string container, string blob, string image)
    {
        string self = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? [self, typeof(SeedComparison).Assembly.Location, "sdk-loop", container, blob, image]
            : [self, "sdk-loop", container, blob, image];
    }

    /// <summary>Runs a command under /usr/bin/time with the connection string in its environment; reads what it uploaded from its JSON.</summary>
    private static async Task<Run> MeasureAsync(string[] command, string connectionString, string dir)
    {
        string timeFile = Path.Combine(dir, "time");
        var start = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["-f", "%M %U %S", "-o", timeFile, .. command])
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["AZURE_STORAGE_CONNECTION_STRING"] = connectionString;
        var watch = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        double seconds = watch.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', command)} exited {process.ExitCode}: {await stderr}");
        }

        string[] t = (await File.ReadAllTextAsync(timeFile)).Split(' ', StringSplitOptions.TrimEntries);
        using JsonDocument json = JsonDocument.Parse(await stdout);
        return new Run(seconds, double.Parse(t[1], CultureInfo.InvariantCulture) + double.Parse(t[2], CultureInfo.InvariantCulture),
            long.Parse(t[0], CultureInfo.InvariantCulture), json.RootElement.GetProperty("bytesUploaded").GetInt64(), json.RootElement.GetProperty("requests").GetInt64());
    }

    /// <summary>
    /// <c>sdk-loop CONTAINER BLOB IMAGE</c> (connection string in AZURE_STORAGE_CONNECTION_STRING): the obvious loop,
    /// read 4 MiB, upload it, next; prints the same JSON fields as <c>repl upload --json</c>.
    /// </summary>
    public static async Task<int> LoopAsync(string[] args)
    {
        string cs = Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING") ?? throw new InvalidOperationException("AZURE_STORAGE_CONNECTION_STRING is not set.");
        PageBlobClient page = new BlobServiceClient(cs).GetBlobContainerClient(args[1]).GetPageBlobClient(args[2]);
        string image = args[3];
        long size = new FileInfo(image).Length;
        await page.CreateAsync(size + 512);
        byte[] buffer = new byte[4 << 20];
        long requests = 0;
        using FileStream file = File.OpenRead(image);
        for (long offset = 0; offset < size; offset += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, size - offset);
            await file.ReadExactlyAsync(buffer.AsMemory(0, n));
            await page.UploadPagesAsync(new MemoryStream(buffer, 0, n), offset);
            requests++;
        }

        Console.WriteLine(FormattableString.Invariant($"{{\"bytesUploaded\":{size},\"requests\":{requests}}}"));
        return 0;
    }
}
