using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// The second half of the life cycle, end to end on both kinds of site: test failover beside replication, planned
/// failover with nothing lost, commit, writes at the recovery side, failback in each mode, reverse replication and cycles
/// again; and an unplanned failover to an older point with the primary's files gone.
/// </summary>
public sealed class FailoverTests : IDisposable
{
    private const long Size = 8 << 20;
    private static readonly ReplicationPolicy Policy = new() { ApplicationConsistentFrequency = TimeSpan.FromTicks(1) };
    private readonly TempDirectory _dir = new();

    public static TheoryData<string, FailbackMode> Paths()
    {
        var data = new TheoryData<string, FailbackMode>();
        foreach (string site in new[] { "local", "azure" })
        {
            foreach (FailbackMode mode in Enum.GetValues<FailbackMode>())
            {
                data.Add(site, mode);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Test_then_planned_failover_commit_failback_and_reverse_replication(string kind, FailbackMode mode)
    {
        IReplicationSite site = await NewSiteAsync(kind);
        await using var machine = new TestMachine(_dir, "web", disks: 2, Size, seed: 20);
        var engine = new ReplicationEngine();
        await engine.ProtectAsync(new ProtectionRequest
        {
            Machine = machine.For(site),
            Policy = Policy,
            CreateSite = true,
            Description = new MachineDescription { Name = "web", CpuCount = 2, NetworkAdapters = [new NetworkAdapter { Name = "eth0", Network = "prod" }] },
            NetworkMapping = new Dictionary<string, string> { ["prod"] = "dr-prod" },
        });
        machine.StartWriting(seed: 3);
        await engine.ReplicateAsync(machine.For(site));

        // Test failover of the newest point, while replication goes on; then cleaned up.
        var testOutput = new DiskFileOutput(_dir.File("test"));
        FailoverResult test = await engine.FailoverAsync(new FailoverRequest { Site = site, Name = "web", Kind = FailoverKind.Test, Output = testOutput });
        Assert.Equal(ProtectionState.Protected, test.State);
        AssertFilesEqual(machine.Snapshots[(int)test.Machine.Point.Cycle - 1], test.Machine.Disks);
        Assert.Equal("dr-prod", Assert.Single(test.Machine.Machine.NetworkAdapters).Network);
        Assert.True((await engine.GetStatusAsync(site, "web")).TestFailoverActive);
        Assert.NotNull((await engine.ReplicateAsync(machine.For(site))).RecoveryPoint);
        await engine.CleanupTestFailoverAsync(site, "web", testOutput);
        Assert.All(test.Machine.Disks, d => Assert.False(File.Exists(d)));

        // Planned failover: the source stops, the final cycle ships the rest, the recovered disks equal it exactly.
        var output = new DiskFileOutput(_dir.File("dr"));
        FailoverResult planned = await engine.FailoverAsync(new FailoverRequest
        {
            Site = site,
            Name = "web",
            Kind = FailoverKind.Planned,
            Machine = machine.For(site),
            ShutdownSource = async _ => await machine.StopWritingAsync(),
            Output = output,
        });
        Assert.Equal(ProtectionState.FailedOver, planned.State);
        byte[][] source = machine.ReadAll();
        AssertFilesEqual(source, planned.Machine.Disks);
        using (JsonDocument description = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output.Directory, "web.machine.json"))))
        {
            Assert.Equal("dr-prod", description.RootElement.GetProperty("networkAdapters")[0].GetProperty("network").GetString());
            Assert.Equal(planned.Machine.Point.Id, description.RootElement.GetProperty("point").GetString());
        }

        await engine.CommitAsync(site, "web");
        Assert.Single(await engine.ListRecoveryPointsAsync(site, "web"));

        // The recovered machine runs and writes about 5% of each disk.
        var random = new Random(9);
        foreach (string disk in planned.Machine.Disks)
        {
            using VirtualDisk recovered = VirtualDisk.Open(disk);
            for (int i = 0; i < 10; i++)
            {
                byte[] bytes = new byte[40960];
                random.NextBytes(bytes);
                recovered.Write(random.NextInt64(0, (Size - bytes.Length) / 512) * 512, bytes);
            }
        }

        byte[][] recoveredNow = [.. planned.Machine.Disks.Select(ReadDisk)];
        await machine.CloseAsync();
        string[] destinations = mode == FailbackMode.AlternateDisk
            ? [_dir.File("alt-0.vhdx"), _dir.File("alt-1.raw")]
            : machine.Paths;
        bool stopped = false;
        FailbackResult back = await engine.FailbackAsync(new FailbackRequest
        {
            Site = site,
            Name = "web",
            Mode = mode,
            Destinations = destinations,
            StopRecovered = _ =>
            {
                stopped = true;
                return ValueTask.CompletedTask;
            },
        });
        Assert.True(stopped);
        Assert.Equal(ProtectionState.FailedBack, back.State);
        AssertFilesEqual(recoveredNow, destinations);
        if (mode == FailbackMode.MinimizeDowntime)
        {
            Assert.True(back.BytesSent < Size / 4, $"minimise downtime sent {back.BytesSent} bytes for about 5% changed");
        }

        // Reverse replication protects the primary again, seeded by a resync against the replicas; cycles go on.
        machine.OpenAgain();
        if (mode != FailbackMode.AlternateDisk)
        {
            ReplicationRunResult reverse = await engine.ReverseReplicationAsync(machine.For(site));
            Assert.Equal(ProtectionState.Protected, reverse.State);
            Assert.True(reverse.BytesSent < Size, $"reverse replication sent {reverse.BytesSent} bytes");
            machine.StartWriting(seed: 4);
            await engine.ReplicateAsync(machine.For(site));
            await machine.StopWritingAsync();
            ReplicationRunResult last = await engine.ReplicateAsync(machine.For(site));
            IReadOnlyList<IVirtualDisk> point = await engine.OpenRecoveryPointAsync(site, "web", last.RecoveryPoint!.Id);
            try
            {
                byte[][] now = machine.ReadAll();
                for (int i = 0; i < point.Count; i++)
                {
                    DiskAssert.ContentEquals(now[i], point[i]);
                }
            }
            finally
            {
                foreach (IVirtualDisk disk in point)
                {
                    disk.Dispose();
                }
            }
        }
    }

    [Theory]
    [InlineData("local")]
    [InlineData("azure")]
    public async Task Unplanned_failover_to_an_older_point_needs_nothing_from_the_primary(string kind)
    {
        IReplicationSite site = await NewSiteAsync(kind);
        await using var machine = new TestMachine(_dir, "db", disks: 1, Size, seed: 30);
        var engine = new ReplicationEngine();
        await engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site), Policy = Policy, CreateSite = true });
        machine.StartWriting(seed: 5);
        await engine.ReplicateAsync(machine.For(site));
        await engine.ReplicateAsync(machine.For(site));

        // The primary is lost: its disks and logs are gone.
        await machine.CloseAsync();
        foreach (string path in machine.Paths)
        {
            File.Delete(path);
            Directory.Delete(path + ".logs", recursive: true);
        }

        var output = new DiskFileOutput(_dir.File("dr"), DiskFormat.Raw);
        FailoverResult unplanned = await engine.FailoverAsync(new FailoverRequest { Site = site, Name = "db", Kind = FailoverKind.Unplanned, PointId = "2", Output = output });
        Assert.Equal("2", unplanned.Machine.Point.Id);
        AssertFilesEqual(machine.Snapshots[1], unplanned.Machine.Disks);

        // Moved to the newest point before committing, then committed; back to a new disk of another format.
        FailoverResult moved = await engine.ChangeRecoveryPointAsync(site, "db", "3", output);
        AssertFilesEqual(machine.Snapshots[2], moved.Machine.Disks);
        await engine.CommitAsync(site, "db");
        FailbackResult back = await engine.FailbackAsync(new FailbackRequest { Site = site, Name = "db", Mode = FailbackMode.AlternateDisk, Destinations = [_dir.File("new.vhd")] });
        AssertFilesEqual(machine.Snapshots[2], [_dir.File("new.vhd")]);
        Assert.Equal(ProtectionState.FailedBack, back.State);
        InvalidProtectionStateException refused = await Assert.ThrowsAsync<InvalidProtectionStateException>(() => engine.CommitAsync(site, "db"));
        Assert.Contains("failed back", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();

    private static byte[] ReadDisk(string path)
    {
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        byte[] bytes = new byte[disk.VirtualSize];
        disk.Read(0, bytes);
        return bytes;
    }

    private static void AssertFilesEqual(byte[][] expected, IReadOnlyList<string> disks)
    {
        Assert.Equal(expected.Length, disks.Count);
        for (int i = 0; i < disks.Count; i++)
        {
            using VirtualDisk disk = VirtualDisk.Open(disks[i], DiskOpenOptions.ReadOnlyAccess);
            DiskAssert.ContentEquals(expected[i], disk);
        }
    }

    private async Task<IReplicationSite> NewSiteAsync(string kind) => kind == "local"
        ? new LocalReplicationSite(_dir.File("site"))
        : new AzureReplicationSite(Azurite.ConnectionString, await Azurite.NewContainerAsync());
}
