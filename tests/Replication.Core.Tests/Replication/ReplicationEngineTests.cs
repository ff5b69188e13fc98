using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Targets;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// Continuous replication end to end, on both kinds of site: protection enabled while the machine writes, delta cycles
/// with writes in between, every retained recovery point equal to the machine as it was at its cut, retention, a
/// resync after writes made behind the tracker's back.
/// </summary>
public sealed class ReplicationEngineTests : IDisposable
{
    private const long Size = 8 << 20;
    private readonly TempDirectory _dir = new();

    public static TheoryData<string> Sites() => ["local", "azure"];

    [Theory]
    [MemberData(nameof(Sites))]
    public async Task Every_retained_point_equals_the_machine_at_its_cut_across_writes_cycles_and_an_offline_edit(string kind)
    {
        IReplicationSite site = await NewSiteAsync(kind);
        await using var machine = new TestMachine(_dir, "web", disks: 2, Size, seed: 10);
        var engine = new ReplicationEngine();
        var policy = new ReplicationPolicy { RetentionCount = 3, ApplicationConsistentFrequency = TimeSpan.FromTicks(1) };

        // Initial replication while the machine writes.
        machine.StartWriting(seed: 1);
        ReplicationRunResult first = await engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site), Policy = policy, CreateSite = true });
        Assert.Equal(ReplicationAction.InitialReplication, first.Action);
        Assert.Equal(ProtectionState.Protected, first.State);
        Assert.Equal("1", first.RecoveryPoint!.Id);

        // Delta cycles with writes in between.
        for (int cycle = 2; cycle <= 4; cycle++)
        {
            ReplicationRunResult run = await engine.ReplicateAsync(machine.For(site));
            Assert.Equal(ReplicationAction.DeltaCycle, run.Action);
            Assert.Equal(cycle.ToString(System.Globalization.CultureInfo.InvariantCulture), run.RecoveryPoint!.Id);
            Assert.Equal(RecoveryPointKind.ApplicationConsistent, run.RecoveryPoint.Kind);
            Assert.True(run.BytesSent <= run.CoalescedBytes, $"sent {run.BytesSent} of {run.CoalescedBytes} coalesced");
        }

        // A quiet cycle: what the writers wrote last is shipped.
        await machine.StopWritingAsync();
        Assert.Equal("5", (await engine.ReplicateAsync(machine.For(site))).RecoveryPoint!.Id);

        // Another program writes a disk while it is not tracked: the next run finds it and resynchronises, sending only
        // what differs.
        await machine.CloseAsync();
        using (VirtualDisk other = VirtualDisk.Open(machine.Paths[1]))
        {
            other.Write(3 << 20, ChangeTracking.TrackingTestSupport.Random(5, 65536));
        }

        machine.OpenAgain();
        Assert.True(machine.Disks[1].Resync.Reasons.HasFlag(ResyncReasons.DiskChangedOffline));
        ReplicationRunResult resync = await engine.ReplicateAsync(machine.For(site));
        Assert.Equal(ReplicationAction.Resync, resync.Action);
        Assert.Equal(ProtectionState.Protected, resync.State);
        Assert.Equal(Size, resync.BytesCompared);
        Assert.InRange(resync.BytesSent, 1, 65536);

        // Retention keeps three points; each equals the machine as the quiesce callback saw it at its cut.
        IReadOnlyList<RecoveryPointInfo> points = await engine.ListRecoveryPointsAsync(site, "web");
        Assert.Equal(["4", "5", "6"], points.Select(p => p.Id));
        foreach (RecoveryPointInfo point in points)
        {
            IReadOnlyList<IVirtualDisk> disks = await engine.OpenRecoveryPointAsync(site, "web", point.Id);
            try
            {
                for (int i = 0; i < disks.Count; i++)
                {
                    DiskAssert.ContentEquals(machine.Snapshots[(int)point.Cycle - 1][i], disks[i]);
                }
            }
            finally
            {
                foreach (IVirtualDisk disk in disks)
                {
                    disk.Dispose();
                }
            }
        }

        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(3, await CountPoints(site.GetDiskTarget("web", i)));
        }

        // The newest point is the machine now.
        Assert.Equal(machine.ReadAll().Select(Convert.ToHexString), machine.Snapshots[^1].Select(Convert.ToHexString));
        ItemStatus status = await engine.GetStatusAsync(site, "web", [.. machine.Paths.Select(p => p + ".logs")]);
        Assert.Equal(ProtectionState.Protected, status.State);
        Assert.Equal("6", status.LastRecoveryPoint!.Id);
        Assert.Null(status.LastError);
    }

    [Fact]
    public async Task A_step_the_state_does_not_allow_is_refused_in_one_line_naming_the_state()
    {
        IReplicationSite site = new LocalReplicationSite(_dir.File("site"));
        await using var machine = new TestMachine(_dir, "db", disks: 1, Size, seed: 3);
        var engine = new ReplicationEngine();
        ReplicationException missing = await Assert.ThrowsAsync<ReplicationException>(() => engine.ReplicateAsync(machine.For(site)));
        Assert.Equal(ReplicationErrorCode.NotFound, missing.Code);

        await engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site), CreateSite = true });
        ReplicationException again = await Assert.ThrowsAsync<ReplicationException>(() => engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site) }));
        Assert.Equal(ReplicationErrorCode.Conflict, again.Code);
        Assert.Contains("already protected", again.Message, StringComparison.Ordinal);

        Assert.Equal(
            "'db' is protected: commit is not allowed; allowed now: replicate, resync, test failover, planned failover, unplanned failover, unprotect.",
            new InvalidProtectionStateException("db", ProtectionState.Protected, false, ReplicationOperation.Commit,
                ProtectionStateMachine.AllowedIn(ProtectionState.Protected, false)).Message);

        await engine.UnprotectAsync(site, "db", machine.Disks);
        Assert.Empty(await ToListAsync(site.ListItemsAsync()));
    }

    [Fact]
    public async Task A_failure_no_retry_can_fix_leaves_the_item_critical_with_its_reason_until_an_operator_repairs_it()
    {
        IReplicationSite site = new LocalReplicationSite(_dir.File("site"));
        await using var machine = new TestMachine(_dir, "app", disks: 1, Size, seed: 8);
        var engine = new ReplicationEngine();
        await engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site), CreateSite = true });

        // The replica's VHD footer damaged behind the tool's back (a bad disk, a stray tool).
        string replica = Path.Combine(_dir.File("site"), "items", "app", "disk-0", "replica.vhd");
        byte[] footer = new byte[512];
        using (var file = new FileStream(replica, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = file.Length - 512;
            file.ReadExactly(footer);
            file.Position = file.Length - 512;
            file.Write(new byte[512]);
        }

        ReplicationException failure = await Assert.ThrowsAnyAsync<ReplicationException>(() => engine.ReplicateAsync(machine.For(site)));
        Assert.False(failure.IsRecoverable);
        ItemStatus critical = await engine.GetStatusAsync(site, "app");
        Assert.Equal(ProtectionState.Critical, critical.State);
        Assert.Equal(failure.Message, critical.LastError!.Message);
        InvalidProtectionStateException refused = await Assert.ThrowsAsync<InvalidProtectionStateException>(() => engine.ReplicateAsync(machine.For(site)));
        Assert.Contains("'app' is critical", refused.Message, StringComparison.Ordinal);

        // Repaired (the footer restored), the operator resumes: a resync checks everything, then cycles go on.
        using (var file = new FileStream(replica, FileMode.Open, FileAccess.Write))
        {
            file.Position = file.Length - 512;
            file.Write(footer);
        }

        await engine.ResumeAsync(site, "app");
        ReplicationRunResult resumed = await engine.ReplicateAsync(machine.For(site));
        Assert.Equal(ReplicationAction.Resync, resumed.Action);
        Assert.Equal(ProtectionState.Protected, resumed.State);
        Assert.Null((await engine.GetStatusAsync(site, "app")).LastError);
    }

    public void Dispose() => _dir.Dispose();

    private static async Task<int> CountPoints(IReplicaTarget target) => (await ToListAsync(target.ListRecoveryPointsAsync())).Count;

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items)
        {
            list.Add(item);
        }

        return list;
    }

    private async Task<IReplicationSite> NewSiteAsync(string kind) => kind == "local"
        ? new LocalReplicationSite(_dir.File("site"))
        : new AzureReplicationSite(Azurite.ConnectionString, await Azurite.NewContainerAsync());
}
