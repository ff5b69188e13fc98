using Microsoft.Extensions.DependencyInjection;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Hosting.Jobs;
using Replication.Hosting.Operations;
using Replication.Hosting.Plans;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Plans;

/// <summary>A recovery plan through the engine adapter: the whole life cycle of three items, byte for byte.</summary>
public sealed class RecoveryPlanEngineTests : IDisposable
{
    private const long Size = 2 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task A_plan_runs_test_failover_cleanup_planned_failover_commit_failback_and_reverse_replication_on_the_engine()
    {
        string[] items = ["db", "app1", "app2"];
        var paths = items.ToDictionary(i => i, i => _dir.File(i + ".raw"));
        for (int n = 0; n < items.Length; n++)
        {
            File.WriteAllBytes(paths[items[n]], TestDisks.Content(Size, seed: n + 1));
        }

        // The default provider opens each item's disk through tracking for each run only, as for disks nothing else keeps open.
        await using TestHost host = await TestHost.StartWithEngineAsync(_dir.Path, new TrackedDiskMachineProvider());
        TimeSpan frequency = TimeSpan.FromMinutes(5);
        foreach (string item in items)
        {
            await host.Service.AddItemAsync(item, [paths[item]], new Items.ItemPolicy { CopyFrequency = frequency, ResyncWindow = new Items.ResyncWindow { TimeZone = "UTC" } });
        }

        foreach (string item in items)
        {
            await host.WaitForItemAsync(item, i => i.ProtectionState == ProtectionState.Protected);
        }

        Dictionary<string, byte[]> atProtection = items.ToDictionary(i => i, i => File.ReadAllBytes(paths[i]));
        await host.Service.Store.SavePlanAsync(new RecoveryPlan
        {
            Name = "shop",
            Groups = [new RecoveryPlanGroup { Items = ["db"], PostActions = ["log"] }, new RecoveryPlanGroup { Items = ["app1", "app2"], PreActions = ["log"] }],
        });

        // The guests write after the first point.
        foreach (string item in items)
        {
            await TestDisks.WriteTrackedAsync(paths[item], seed: item.Length);
        }

        RecoveryPlanRunner runner = host.Services.GetRequiredService<RecoveryPlanRunner>();
        var actions = new List<string>();
        var shutdown = new List<string>();
        var stopped = new List<string>();
        RecoveryPlanRunOptions Options(RecoveryPlanOperation operation) => new()
        {
            Operation = operation,
            OutputDirectory = _dir.File("dr"),
            Actions = new Dictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>>
            {
                ["log"] = (c, _) =>
                {
                    lock (actions)
                    {
                        actions.Add($"{c.Operation} {(c.IsPre ? "pre" : "post")} {c.Group}");
                    }

                    return Task.CompletedTask;
                },
            },
            ShutdownSource = (item, _) =>
            {
                lock (shutdown)
                {
                    shutdown.Add(item);
                }

                return ValueTask.CompletedTask;
            },
            StopRecovered = (item, _) =>
            {
                lock (stopped)
                {
                    stopped.Add(item);
                }

                return ValueTask.CompletedTask;
            },
        };
        string Recovered(string item) => Path.Combine(_dir.File("dr"), item, item + "-disk-0.vhdx");

        // Test failover: each item's newest point (the first one, before the writes), beside replication; then cleaned up.
        await RunAsync(runner, Options(RecoveryPlanOperation.TestFailover));
        foreach (string item in items)
        {
            Assert.True(atProtection[item].AsSpan().SequenceEqual(TestDisks.ReadWhole(Recovered(item))), $"{item}: the test failover differs from its point");
        }

        await RunAsync(runner, Options(RecoveryPlanOperation.TestFailoverCleanup));
        Assert.All(items, i => Assert.False(File.Exists(Recovered(i))));

        // Planned failover: each source shut down, a final cycle, the recovered disk equal to the source now.
        await RunAsync(runner, Options(RecoveryPlanOperation.PlannedFailover));
        Assert.Equal(items.Order(), shutdown.Order());
        foreach (string item in items)
        {
            Assert.True(File.ReadAllBytes(paths[item]).AsSpan().SequenceEqual(TestDisks.ReadWhole(Recovered(item))), $"{item}: the planned failover lost writes");
            Assert.Equal(ProtectionState.FailedOver, (await host.Service.Store.GetItemAsync(item))!.ProtectionState);
        }

        await RunAsync(runner, Options(RecoveryPlanOperation.Commit));

        // The recovered machines write; failback copies them back to the primaries (each stopped first).
        foreach (string item in items)
        {
            using VirtualDisk recovered = VirtualDisk.Open(Recovered(item));
            byte[] bytes = new byte[65536];
            new Random(item.Length + 7).NextBytes(bytes);
            recovered.Write(512 * 1000, bytes);
        }

        Dictionary<string, byte[]> atRecovery = items.ToDictionary(i => i, i => TestDisks.ReadWhole(Recovered(i)));
        await RunAsync(runner, Options(RecoveryPlanOperation.Failback));
        Assert.Equal(items.Order(), stopped.Order());
        foreach (string item in items)
        {
            Assert.True(atRecovery[item].AsSpan().SequenceEqual(File.ReadAllBytes(paths[item])), $"{item}: the failback differs from the recovered machine");
        }

        // Reverse replication protects them again, and the next cycle runs on schedule (the first: the clock has not moved).
        await RunAsync(runner, Options(RecoveryPlanOperation.ReverseReplication));
        Assert.All(await host.Service.ListItemsAsync(), i => Assert.Equal(ProtectionState.Protected, i.ProtectionState));
        IReadOnlyList<JobRecord> jobs = await host.Service.ListJobsAsync(limit: 1000);
        Assert.DoesNotContain(jobs, j => j.Kind == JobKind.DeltaCycle);
        Assert.Equal(6, jobs.Count(j => j.Kind == JobKind.RecoveryPlan && j.State == JobState.Succeeded));
        Assert.Equal(
            ["TestFailover post 1", "TestFailover pre 2", "TestFailoverCleanup post 1", "TestFailoverCleanup pre 2", "PlannedFailover post 1", "PlannedFailover pre 2",
                "Commit post 1", "Commit pre 2", "Failback post 1", "Failback pre 2", "ReverseReplication post 1", "ReverseReplication pre 2"],
            actions);
        DateTimeOffset next = host.Clock.GetUtcNow() + frequency;
        await TestDisks.WriteTrackedAsync(paths["db"], seed: 99);
        host.AdvanceTo(next);
        await host.WaitForAsync(async () => (await host.Service.ListJobsAsync("db")).FirstOrDefault(j => j.Kind == JobKind.DeltaCycle && j.State == JobState.Succeeded));
        Assert.Equal(File.ReadAllBytes(paths["db"]), await ReadNewestPointAsync(host, "db"));
    }

    private static async Task RunAsync(RecoveryPlanRunner runner, RecoveryPlanRunOptions options)
    {
        RecoveryPlanReport report = await runner.RunAsync("shop", options);
        Assert.True(report.Succeeded, report.Describe());
    }

    private static async Task<byte[]> ReadNewestPointAsync(TestHost host, string item)
    {
        RecoveryPointInfo newest = (await host.Service.ListRecoveryPointsAsync(item))[^1];
        IReadOnlyList<IVirtualDisk> disks = await new ReplicationEngine().OpenRecoveryPointAsync(new Core.Replication.Sites.LocalReplicationSite(TestHost.SitePath(host.Folder)), item, newest.Id);
        try
        {
            byte[] bytes = new byte[disks[0].VirtualSize];
            disks[0].Read(0, bytes);
            return bytes;
        }
        finally
        {
            foreach (IVirtualDisk disk in disks)
            {
                disk.Dispose();
            }
        }
    }

    public void Dispose() => _dir.Dispose();
}
