using Replication.Core;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Service;

/// <summary><see cref="ReplicationService.ReplicateNowAsync"/>: a cycle on demand, on a clock that does not move.</summary>
public sealed class ReplicateNowTests : IDisposable
{
    private const long Size = 4 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task A_cycle_runs_at_once_without_the_copy_frequency_coming_round_and_its_point_equals_the_disk()
    {
        await using var disks = new TestDisks();
        string[] paths = disks.Create(_dir.Path, "vm", disks: 1, Size, seed: 3);
        await using TestHost host = await TestHost.StartWithEngineAsync(_dir.Path, disks);
        await host.Service.AddItemAsync("vm", paths, new ItemPolicy { CopyFrequency = TimeSpan.FromMinutes(15), ResyncWindow = new ResyncWindow { TimeZone = "UTC" } });
        await host.WaitForItemAsync("vm", i => i.ProtectionState == ProtectionState.Protected && i.LastRecoveryPointId == "1");

        // The clock stays where it is: only the request can start this cycle.
        await disks.WriteAsync("vm", writes: 20, seed: 4);
        await host.Service.ReplicateNowAsync("vm");
        JobRecord cycle = await host.WaitForAsync(async () =>
            (await host.Service.ListJobsAsync("vm")).FirstOrDefault(j => j.Kind == JobKind.DeltaCycle && j.State == JobState.Succeeded));
        Assert.Equal(TestHost.Monday10, cycle.Started);

        HostedItem item = (await host.Service.Store.GetItemAsync("vm"))!;
        Assert.Equal("2", item.LastRecoveryPointId);
        IReadOnlyList<IVirtualDisk> point = await new ReplicationEngine().OpenRecoveryPointAsync(new LocalReplicationSite(TestHost.SitePath(_dir.Path)), "vm", "2");
        try
        {
            byte[] replica = new byte[Size];
            point[0].Read(0, replica);
            Assert.True(disks.Read("vm", 0).AsSpan().SequenceEqual(replica), "point 2 differs from the disk");
        }
        finally
        {
            point[0].Dispose();
        }
    }

    [Fact]
    public async Task An_item_the_host_does_not_have_is_refused_as_not_found()
    {
        await using var disks = new TestDisks();
        await using TestHost host = await TestHost.StartWithEngineAsync(_dir.Path, disks);
        var ex = await Assert.ThrowsAsync<ReplicationException>(() => host.Service.ReplicateNowAsync("nobody"));
        Assert.Equal(ReplicationErrorCode.NotFound, ex.Code);
    }

    public void Dispose() => _dir.Dispose();
}
