using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting;
using Replication.Hosting.Items;
using Replication.Hosting.Operations;

namespace Replication.Benchmarks.Replication;

/// <summary>
/// PERFORMANCE.md P16: one replication host with many protected disks, each written at a steady rate through its
/// tracked disk (the embedding product's writers, kept open for the whole run and lent to the host per job), cycles at
/// the copy frequency on the system clock, to a local site. Reports the worst recovery point age (RPO) seen, memory
/// (working set and managed heap: first, peak and last sample) and CPU per item.
/// </summary>
/// <remarks>
/// <c>host-load [items] [seconds] [KB/s per item] [frequency-seconds] [disk-MiB]</c>; defaults 100 600 100 30 16. The items
/// are protected first (not measured); the clock of the measured run starts when every item has its first point.
/// </remarks>
internal static class HostLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int items = Arg(args, 1, 100);
        int seconds = Arg(args, 2, 600);
        int kbPerSecond = Arg(args, 3, 100);
        int frequency = Arg(args, 4, 30);
        int diskMiB = Arg(args, 5, 16);
        if (items < 1 || seconds < 10 || kbPerSecond < 1 || frequency < 30 || diskMiB < 1)
        {
            Console.Error.WriteLine("usage: host-load [items >= 1] [seconds >= 10] [KB/s per item >= 1] [frequency-seconds >= 30] [disk-MiB >= 1]");
            return 2;
        }

        string work = Path.Combine(Path.GetTempPath(), "repl-host-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var disks = new Machines();
        string? container = null;
        try
        {
            for (int i = 0; i < items; i++)
            {
                string path = Path.Combine(work, string.Create(CultureInfo.InvariantCulture, $"vm{i:000}.raw"));
                using (VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = (long)diskMiB << 20 }))
                {
                }

                disks.Add(string.Create(CultureInfo.InvariantCulture, $"vm{i:000}"), path);
            }

            HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddLogging(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
            IReplicationBuilder replication = builder.Services.AddReplication(o =>
                {
                    o.HostId = "bench";
                    o.SqlitePath = Path.Combine(work, "host.db");
                    o.WorkDirectory = work;
                })
                .UseMachineProvider(_ => disks);
            string siteName = "local site";
            if (Environment.GetEnvironmentVariable("REPL_HOST_LOAD_AZURE") is { Length: > 0 } azure)
            {
                // An Azure site (Azurite, started by host-load.sh): a container of its own, deleted at the end.
                container = "host-load-" + Guid.NewGuid().ToString("N")[..12];
                await new Azure.Storage.Blobs.BlobContainerClient(azure, container).CreateAsync().ConfigureAwait(false);
                replication.AddAzureSite(azure, container);
                siteName = "Azure site (Azurite)";
            }
            else
            {
                replication.AddLocalSite(Path.Combine(work, "site"));
            }

            using IHost host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);
            ReplicationService service = host.Services.GetRequiredService<ReplicationService>();
            var policy = new ItemPolicy { CopyFrequency = TimeSpan.FromSeconds(frequency), RetentionCount = 4 };
            foreach ((string name, string path) in disks.Paths)
            {
                await service.AddItemAsync(name, [path], policy).ConfigureAwait(false);
            }

            Console.Error.WriteLine($"host-load: protecting {items} items of {diskMiB} MiB…");
            while ((await service.ListItemsAsync().ConfigureAwait(false)).Any(i => i.LastRecoveryPointAt is null))
            {
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }

            // The measured run: every writer at its rate, the host cycling, a sample every 5 seconds.
            Console.Error.WriteLine($"host-load: {items} items at {kbPerSecond} KB/s each, copy frequency {frequency} s, for {seconds} s…");
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            Task[] writers = [.. disks.Paths.Select((p, i) => disks.WriteAsync(p.Key, kbPerSecond * 1000, i, stop.Token))];
            using var process = Process.GetCurrentProcess();
            TimeSpan cpuStart = process.TotalProcessorTime;
            long wallStart = Stopwatch.GetTimestamp();
            double rpoMax = 0;
            string rpoMaxItem = "-";
            var workingSet = new List<long>();
            var heap = new List<long>();
            long? liveFirst = null;
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
            while (!stop.IsCancellationRequested && await timer.WaitForNextTickAsync(CancellationToken.None).ConfigureAwait(false))
            {
                DateTimeOffset now = DateTimeOffset.UtcNow;
                foreach (HostedItem item in await service.ListItemsAsync().ConfigureAwait(false))
                {
                    double rpo = (now - item.LastRecoveryPointAt!.Value).TotalSeconds;
                    if (rpo > rpoMax)
                    {
                        (rpoMax, rpoMaxItem) = (rpo, item.Name);
                    }
                }

                process.Refresh();
                workingSet.Add(process.WorkingSet64);
                heap.Add(GC.GetTotalMemory(forceFullCollection: false));

                // What is live (a full collection first) once at the start and once at the end: the heap samples above
                // include garbage not yet collected, which grows with the load, so only these two tell a leak.
                liveFirst ??= GC.GetTotalMemory(forceFullCollection: true);
            }

            long liveLast = GC.GetTotalMemory(forceFullCollection: true);
            await Task.WhenAll(writers).ConfigureAwait(false);
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
            double wall = Stopwatch.GetElapsedTime(wallStart).TotalSeconds;
            int cycles = (await service.ListJobsAsync(limit: 10_000).ConfigureAwait(false)).Count(j => j.Kind == Hosting.Jobs.JobKind.DeltaCycle && j.State == Hosting.Jobs.JobState.Succeeded);
            int critical = (await service.ListItemsAsync().ConfigureAwait(false)).Count(i => i.State != HostedItemState.Healthy);
            await host.StopAsync().ConfigureAwait(false);

            Console.WriteLine($"P16 host-load: {items} items, {kbPerSecond} KB/s each, copy frequency {frequency} s, {seconds} s, {siteName}, {Environment.ProcessorCount} cores");
            Console.WriteLine();
            Console.WriteLine("| measure | value |");
            Console.WriteLine("|---|---|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| RPO max (sampled every 5 s) | {rpoMax:0.0} s ({rpoMaxItem}) |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| delta cycles completed | {cycles} ({cycles / (double)items:0.0} per item; {seconds / (double)frequency:0.0} due) |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| items not healthy at the end | {critical} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| working set first / peak / last | {Mib(workingSet[0])} / {Mib(workingSet.Max())} / {Mib(workingSet[^1])} MiB |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| managed heap first / peak / last | {Mib(heap[0])} / {Mib(heap.Max())} / {Mib(heap[^1])} MiB |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| live managed heap after a full collection, first sample / end | {Mib(liveFirst ?? 0)} / {Mib(liveLast)} MiB |"));
            Console.WriteLine($"| working set each minute | {string.Join(", ", workingSet.Where((_, i) => i % 12 == 11).Select(Mib))} MiB |");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| CPU, whole process (writers included) | {cpu / wall * 100:0.0}% of one core |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| CPU per item | {cpu / wall / items * 100:0.00}% of one core ({cpu / items * 1000 / (wall / 60):0} ms per item-minute) |"));
            return 0;
        }
        finally
        {
            await disks.DisposeAsync().ConfigureAwait(false);
            if (container is not null)
            {
                // Azurite deletes a container holding ten minutes of recovery points (snapshots) slowly, at one core, for
                // minutes; the script's Azurite is in memory and goes with the script, so the delete is not waited out.
                using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await new Azure.Storage.Blobs.BlobContainerClient(Environment.GetEnvironmentVariable("REPL_HOST_LOAD_AZURE"), container)
                        .DeleteIfExistsAsync(cancellationToken: bounded.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (bounded.IsCancellationRequested)
                {
                    Console.Error.WriteLine($"host-load: container '{container}' was still being deleted after 30 s; left to the site");
                }
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(work, recursive: true);
        }
    }

    private static int Arg(string[] args, int index, int fallback) => args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : fallback;

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture);

    /// <summary>The product's machines: one tracked disk each, open for the whole run and lent to the host for each job.</summary>
    private sealed class Machines : IMachineProvider, IAsyncDisposable
    {
        private readonly Dictionary<string, TrackedDisk> _disks = new(StringComparer.Ordinal);

        public Dictionary<string, string> Paths { get; } = new(StringComparer.Ordinal);

        public void Add(string name, string path)
        {
            Paths[name] = path;
            _disks[name] = TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs");
        }

        public ValueTask<MachineLease> AcquireAsync(IReplicationSite site, HostedItem item, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new MachineLease(new ProtectedMachine(site, item.Name, [_disks[item.Name]])));

        /// <summary>Writes at random 512-byte-aligned offsets, paced to <paramref name="bytesPerSecond"/> (ten writes a second), until stopped.</summary>
        public async Task WriteAsync(string name, int bytesPerSecond, int seed, CancellationToken stop)
        {
            TrackedDisk disk = _disks[name];
            var random = new Random(seed);
            int perTick = Math.Max(512, bytesPerSecond / 10 / 512 * 512);
            byte[] data = new byte[perTick];
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            try
            {
                while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
                {
                    random.NextBytes(data);
                    long sectors = (disk.VirtualSize - data.Length) / 512;
                    await disk.WriteAsync(random.NextInt64(0, sectors) * 512, data, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (TrackedDisk disk in _disks.Values)
            {
                await disk.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
