using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.EndToEnd;

/// <summary>The host with the real engine: items protected and cycled by Quartz on a fake clock, replicas equal to the disks.</summary>
public sealed class EngineEndToEndTests : IDisposable
{
    private const long Size = 4 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Items_are_protected_then_cycled_at_their_frequencies_and_each_replica_equals_its_disks()
    {
        await using var disks = new TestDisks();
        string[] web = disks.Create(_dir.Path, "web", disks: 2, Size, seed: 1);
        string[] db = disks.Create(_dir.Path, "db", disks: 1, Size, seed: 10);
        await using TestHost host = await TestHost.StartWithEngineAsync(_dir.Path, disks);
        DateTimeOffset start = host.Clock.GetUtcNow();
        TimeSpan thirtySeconds = TimeSpan.FromSeconds(30);
        TimeSpan fiveMinutes = TimeSpan.FromMinutes(5);

        // Neither item is at the site yet: each is protected at once (enable protection, initial copy, first point).
        await host.Service.AddItemAsync("web", web, new ItemPolicy { CopyFrequency = thirtySeconds, ResyncWindow = new ResyncWindow { TimeZone = "UTC" } });
        await host.Service.AddItemAsync("db", db, new ItemPolicy { CopyFrequency = fiveMinutes, ResyncWindow = new ResyncWindow { TimeZone = "UTC" } });
        foreach (string item in new[] { "web", "db" })
        {
            HostedItem protectedItem = await host.WaitForItemAsync(item, i => i.ProtectionState == ProtectionState.Protected && i.LastRecoveryPointAt == start);
            Assert.Equal(HostedItemState.Healthy, protectedItem.State);
        }

        // Ten steps of 30 seconds, the guests writing before each: web cycles at every step, db at the tenth (5 minutes).
        for (int step = 1; step <= 10; step++)
        {
            await disks.WriteAsync("web", writes: 20, seed: 100 + step);
            await disks.WriteAsync("db", writes: 20, seed: 200 + step);
            DateTimeOffset at = start + (thirtySeconds * step);
            host.AdvanceTo(at);
            await host.WaitForItemAsync("web", i => i.LastRecoveryPointAt == at);
        }

        DateTimeOffset end = start + fiveMinutes;
        await host.WaitForItemAsync("db", i => i.LastRecoveryPointAt == end);

        IReadOnlyList<JobRecord> webJobs = await host.Service.ListJobsAsync("web");
        IReadOnlyList<JobRecord> dbJobs = await host.Service.ListJobsAsync("db");
        Assert.All(webJobs.Concat(dbJobs), j => Assert.Equal((JobState.Succeeded, 1, (JobError?)null), (j.State, j.Attempt, j.Error)));
        Assert.Equal([JobKind.EnableProtection, .. Enumerable.Repeat(JobKind.DeltaCycle, 10)], webJobs.OrderBy(j => j.Started).Select(j => j.Kind));
        Assert.Equal(Enumerable.Range(1, 10).Select(n => start + (thirtySeconds * n)), webJobs.Where(j => j.Kind == JobKind.DeltaCycle).Select(j => j.Started).Order());
        Assert.Equal([(JobKind.EnableProtection, start), (JobKind.DeltaCycle, end)], dbJobs.OrderBy(j => j.Started).Select(j => (j.Kind, j.Started)));
        JobRecord cycle = (await host.Service.GetJobAsync(webJobs.First(j => j.Kind == JobKind.DeltaCycle).Id))!;
        Assert.NotEmpty(cycle.Steps);

        // The newest point of each item is, byte for byte, its disks now.
        var site = new LocalReplicationSite(TestHost.SitePath(_dir.Path));
        var engine = new ReplicationEngine();
        foreach ((string item, int count) in new[] { ("web", 2), ("db", 1) })
        {
            HostedItem record = (await host.Service.Store.GetItemAsync(item))!;
            RecoveryPointInfo newest = (await host.Service.ListRecoveryPointsAsync(item))[^1];
            Assert.Equal(record.LastRecoveryPointId, newest.Id);
            IReadOnlyList<IVirtualDisk> replica = await engine.OpenRecoveryPointAsync(site, item, newest.Id);
            try
            {
                Assert.Equal(count, replica.Count);
                for (int i = 0; i < count; i++)
                {
                    byte[] bytes = new byte[replica[i].VirtualSize];
                    replica[i].Read(0, bytes);
                    Assert.True(disks.Read(item, i).AsSpan().SequenceEqual(bytes), $"{item} disk {i}: the replica differs from the disk");
                }
            }
            finally
            {
                foreach (IVirtualDisk disk in replica)
                {
                    disk.Dispose();
                }
            }
        }
    }

    public void Dispose() => _dir.Dispose();
}
