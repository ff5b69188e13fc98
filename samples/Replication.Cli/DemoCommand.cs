using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.Cli;

/// <summary>
/// <c>repl demo</c>: the whole life cycle on a local-directory site, checked byte for byte. A generated VHDX is written
/// through its tracker by a random workload while it is protected and while cycles run; a test failover, a planned
/// failover, commit, writes at the recovery side, a failback that minimises downtime and reverse replication follow.
/// Every recovery point, the recovered disks and the failed-back disk are compared with what they must hold (block
/// manifests of the disk taken while its writer was paused at each point's cut).
/// </summary>
internal static class DemoCommand
{
    private const long Size = 256L << 20;

    public static Command Build()
    {
        var site = new Option<string?>("--site") { Description = "The site's directory (default: a new folder in the temporary directory, removed at the end)." };
        var command = new Command("demo", "Run the whole replication life cycle on a local site with a generated disk and a random-write workload, and check every result byte for byte.") { site };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            bool json = parse.GetValue(CliCommand.Json);
            string work = Path.Combine(Path.GetTempPath(), "repl-demo-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(work);
            try
            {
                await RunAsync(work, parse.GetValue(site) ?? Path.Combine(work, "site"), json, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        });
        return command;
    }

    private static async Task RunAsync(string work, string sitePath, bool json, CancellationToken cancellationToken)
    {
        var steps = new List<JsonReport>();
        long started = Stopwatch.GetTimestamp();
        void Step(string what, string detail)
        {
            steps.Add(new JsonReport().Add("step", what).Add("detail", detail).Add("seconds", Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 2)));
            if (!json)
            {
                Console.WriteLine($"== {what}: {detail}");
            }
        }

        // A 256 MiB dynamic VHDX with scattered data.
        string disk = Path.Combine(work, "web.vhdx");
        using (VirtualDisk created = VirtualDisk.Create(disk, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = Size }))
        {
            var random = new Random(1);
            byte[] data = new byte[1 << 20];
            for (int i = 0; i < 24; i++)
            {
                random.NextBytes(data);
                created.Write(random.NextInt64(0, Size >> 20) << 20, data);
            }
        }

        Step("disk", $"{disk}: 256 MiB dynamic VHDX, 24 MiB of data");
        var site = new LocalReplicationSite(sitePath);
        var engine = new ReplicationEngine();
        var cuts = new Dictionary<long, string>();
        var workload = new Workload();
        TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(disk), disk + ".logs");
        try
        {
            ProtectedMachine Machine() => new(site, "web", [tracked])
            {
                Quiesce = async ct =>
                {
                    // The workload pauses; the disk as it is now is what this cycle's point must hold.
                    IAsyncDisposable pause = await workload.PauseAsync(ct).ConfigureAwait(false);
                    await tracked.FlushAsync(ct).ConfigureAwait(false);
                    string manifest = Path.Combine(work, $"cut-{cuts.Count + 1}.manifest");
                    using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(tracked, manifest, cancellationToken: ct).ConfigureAwait(false);
                    cuts[cuts.Count + 1] = manifest;
                    return pause;
                },
            };
            var policy = new ReplicationPolicy { ApplicationConsistentFrequency = TimeSpan.FromTicks(1), RetentionCount = 10 };

            workload.Start(tracked);
            ReplicationRunResult protect = await engine.ProtectAsync(new ProtectionRequest
            {
                Machine = Machine(),
                Policy = policy,
                CreateSite = true,
                Description = new MachineDescription { Name = "web", CpuCount = 2, NetworkAdapters = [new NetworkAdapter { Name = "eth0", Network = "prod" }] },
                NetworkMapping = new Dictionary<string, string> { ["prod"] = "dr-prod" },
            }, cancellationToken).ConfigureAwait(false);
            Step("protect", $"initial replication while the disk was written: {protect.BytesSent >> 20} MiB sent, point {protect.RecoveryPoint!.Id}");
            for (int cycle = 0; cycle < 3; cycle++)
            {
                ReplicationRunResult run = await engine.ReplicateAsync(Machine(), cancellationToken).ConfigureAwait(false);
                Step("cycle", $"{run.LoggedBytes >> 10} KiB logged, {run.CoalescedBytes >> 10} KiB after coalescing, {run.BytesSent >> 10} KiB sent, point {run.RecoveryPoint!.Id}");
            }

            // Every retained point holds exactly the disk at its cut.
            foreach (RecoveryPointInfo point in await engine.ListRecoveryPointsAsync(site, "web", cancellationToken).ConfigureAwait(false))
            {
                IReadOnlyList<IVirtualDisk> opened = await engine.OpenRecoveryPointAsync(site, "web", point.Id, cancellationToken).ConfigureAwait(false);
                try
                {
                    await CheckAsync(opened[0], cuts[point.Cycle], work, $"recovery point {point.Id}", cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    opened[0].Dispose();
                }
            }

            Step("points", "every recovery point equals the disk at its cut, byte for byte");

            var testOutput = new DiskFileOutput(Path.Combine(work, "test-failover"));
            FailoverResult test = await engine.FailoverAsync(new FailoverRequest { Site = site, Name = "web", Kind = FailoverKind.Test, Output = testOutput }, cancellationToken).ConfigureAwait(false);
            await CheckFileAsync(test.Machine.Disks[0], cuts[test.Machine.Point.Cycle], work, "the test failover's disk", cancellationToken).ConfigureAwait(false);
            ReplicationRunResult beside = await engine.ReplicateAsync(Machine(), cancellationToken).ConfigureAwait(false);
            await engine.CleanupTestFailoverAsync(site, "web", testOutput, cancellationToken).ConfigureAwait(false);
            Step("test failover", $"point {test.Machine.Point.Id} recovered and checked while replication went on (point {beside.RecoveryPoint!.Id}); cleaned up");

            var output = new DiskFileOutput(Path.Combine(work, "recovery-site"));
            FailoverResult planned = await engine.FailoverAsync(new FailoverRequest
            {
                Site = site,
                Name = "web",
                Kind = FailoverKind.Planned,
                Machine = Machine(),
                ShutdownSource = async _ => await workload.StopAsync().ConfigureAwait(false),
                Output = output,
            }, cancellationToken).ConfigureAwait(false);
            string source = Path.Combine(work, "source.manifest");
            using (await new ManifestBuilder().BuildAsync(tracked, source, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
            }

            await CheckFileAsync(planned.Machine.Disks[0], source, work, "the planned failover's disk", cancellationToken).ConfigureAwait(false);
            Step("planned failover", $"source shut down, final cycle sent {planned.FinalCycleBytes >> 10} KiB; recovered disk equals the source; adapter eth0 on {planned.Machine.Machine.NetworkAdapters[0].Network}");
            await engine.CommitAsync(site, "web", cancellationToken).ConfigureAwait(false);

            // The machine runs at the recovery site and writes.
            using (VirtualDisk recovered = VirtualDisk.Open(planned.Machine.Disks[0]))
            {
                var random = new Random(2);
                byte[] data = new byte[65536];
                for (int i = 0; i < 64; i++)
                {
                    random.NextBytes(data);
                    recovered.Write(random.NextInt64(0, (Size - data.Length) / 512) * 512, data);
                }
            }

            Step("commit", "failover committed; the recovered machine wrote 4 MiB");
            await tracked.DisposeAsync().ConfigureAwait(false);
            FailbackResult back = await engine.FailbackAsync(new FailbackRequest { Site = site, Name = "web", Mode = FailbackMode.MinimizeDowntime }, cancellationToken).ConfigureAwait(false);
            string recoveredManifest = Path.Combine(work, "recovered.manifest");
            using (VirtualDisk recovered = VirtualDisk.Open(planned.Machine.Disks[0], DiskOpenOptions.ReadOnlyAccess))
            using (await new ManifestBuilder().BuildAsync(recovered, recoveredManifest, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
            }

            await CheckFileAsync(disk, recoveredManifest, work, "the failed-back disk", cancellationToken).ConfigureAwait(false);
            Step("failback", $"minimise downtime: {back.BytesCompared >> 20} MiB compared, {back.BytesSent >> 10} KiB sent ({back.BytesSentWhileStopped >> 10} KiB while stopped); the disk equals the recovered one");

            tracked = TrackedDisk.Open(VirtualDisk.Open(disk), disk + ".logs");
            ReplicationRunResult reverse = await engine.ReverseReplicationAsync(new ProtectedMachine(site, "web", [tracked]), cancellationToken).ConfigureAwait(false);
            Step("reverse replication", $"{reverse.BytesCompared >> 20} MiB compared, {reverse.BytesSent >> 10} KiB sent, point {reverse.RecoveryPoint!.Id}; protected again");
        }
        finally
        {
            await workload.StopAsync().ConfigureAwait(false);
            await tracked.DisposeAsync().ConfigureAwait(false);
        }

        if (json)
        {
            new JsonReport().Add("site", site.Location).Add("verified", true).Add("steps", steps).Write(Console.Out, json: true);
        }
        else
        {
            Console.WriteLine("replication OK: every recovery point, the recovered disks and the failed-back disk were checked byte for byte");
        }
    }

    private static async Task CheckFileAsync(string path, string expected, string work, string what, CancellationToken cancellationToken)
    {
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        await CheckAsync(disk, expected, work, what, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Throws unless the disk's block manifest equals the expected one in every block.</summary>
    private static async Task CheckAsync(IVirtualDisk disk, string expected, string work, string what, CancellationToken cancellationToken)
    {
        string path = Path.Combine(work, $"check-{Guid.NewGuid():N}.manifest");
        using ManifestBuildResult actual = await new ManifestBuilder().BuildAsync(disk, path, cancellationToken: cancellationToken).ConfigureAwait(false);
        using BlockManifest wanted = BlockManifest.Open(expected);
        BlockDiff diff = BlockDiff.Compare(wanted, actual.Manifest, cancellationToken);
        if (diff.ChangedBytes != 0)
        {
            throw new Replication.Core.ReplicationException(
                Replication.Core.ReplicationErrorCode.IntegrityCheckFailed, false, string.Create(CultureInfo.InvariantCulture, $"{what} differs from what it must hold in {diff.ChangedBytes} bytes."));
        }
    }

    /// <summary>Random writes (and a flush every eight) through the tracked disk, pausable at a point's cut.</summary>
    private sealed class Workload
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private CancellationTokenSource? _stop;
        private Task _running = Task.CompletedTask;

        public void Start(TrackedDisk disk)
        {
            _stop = new CancellationTokenSource();
            CancellationToken stop = _stop.Token;
            _running = Task.Run(async () =>
            {
                var random = new Random(3);
                byte[] data = new byte[16384];
                for (int n = 0; !stop.IsCancellationRequested; n++)
                {
                    await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                    try
                    {
                        random.NextBytes(data);
                        await disk.WriteAsync(random.NextInt64(0, (Size - data.Length) / 512) * 512, data, CancellationToken.None).ConfigureAwait(false);
                        if (n % 8 == 7)
                        {
                            await disk.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        _gate.Release();
                    }

                    // A guest that writes a few MB/s, not one that saturates the disk.
                    if (n % 32 == 31)
                    {
                        await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                    }
                }
            }, CancellationToken.None);
        }

        public async Task<IAsyncDisposable> PauseAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            return new Resume(_gate);
        }

        public async Task StopAsync()
        {
            if (_stop is null)
            {
                return;
            }

            await _stop.CancelAsync().ConfigureAwait(false);
            await _running.ConfigureAwait(false);
            _stop.Dispose();
            _stop = null;
        }

        private sealed class Resume(SemaphoreSlim gate) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                gate.Release();
                return ValueTask.CompletedTask;
            }
        }
    }
}
