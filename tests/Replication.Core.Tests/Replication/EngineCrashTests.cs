using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Tests.Infrastructure;
using Replication.TestChild;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// The engine's durability claims, tested by killing a real process: a cycle killed between any two of its steps, and
/// an initial replication killed at random points of its copy, are completed by the next run; no flushed write is lost
/// (the newest recovery point equals the disks), the item ends protected with its logs released, and a resumed copy
/// does not send again what its checkpoint holds.
/// </summary>
public sealed class EngineCrashTests : IDisposable
{
    private const long Size = 4 << 20;
    private static readonly string[] CycleSteps = ["rotated", "shipped disk 0", "point disk 0", "shipped disk 1", "point disk 1", "recorded", "pruned", "released"];
    private readonly TempDirectory _dir = new();

    public static TheoryData<string> Sites() => ["local", "azure"];

    [Theory]
    [MemberData(nameof(Sites))]
    public async Task A_cycle_killed_between_any_two_steps_is_completed_by_the_next_run(string kind)
    {
        string location = kind == "local" ? _dir.File("site") : await Azurite.NewContainerAsync();
        string[] disks = [NewDisk("a.raw", 1), NewDisk("b.raw", 2)];
        byte[][] model = [.. disks.Select(File.ReadAllBytes)];
        Run(kind, location, "protect", seed: -1, gate: "-", disks);

        int seed = 1;
        foreach (string step in CycleSteps)
        {
            // Writes (flushed) then a cycle, killed once it has completed the step.
            using (ChildProcess child = Start(kind, location, "replicate", seed, step, disks))
            {
                ReadUntil(child, "gate " + step, $"cycle to be killed after '{step}'");
                child.Kill();
            }

            Apply(model, seed++);

            // The next run completes it (a resync of the regions the killed tracker had armed, then a cycle). A local
            // fence whose holder died is taken over; an Azure lease outlives its holder, so the operator breaks it.
            Run(kind, location, Rerun(kind), seed: -1, gate: "-", disks);
            await AssertNewestPointEqualsAsync(kind, location, model, $"after a kill following '{step}'");
            foreach (string disk in disks)
            {
                Assert.Empty(TrackedDisk.Inspect(disk + ".logs")!.SealedLogs);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sites))]
    public async Task A_resync_killed_between_any_two_steps_is_completed_by_the_next_run(string kind)
    {
        string location = kind == "local" ? _dir.File("site") : await Azurite.NewContainerAsync();
        string[] disks = [NewDisk("a.raw", 1), NewDisk("b.raw", 2)];
        byte[][] model = [.. disks.Select(File.ReadAllBytes)];
        Run(kind, location, "protect", seed: -1, gate: "-", disks);
        var random = new Random(7);
        foreach (string step in new[] { "copy begun disk 0", "copy begun disk 1", "copied disk 0", "copied disk 1", "copies recorded" })
        {
            // Both disks changed while nothing tracked them: the next run resynchronises both, and is killed after the step.
            for (int d = 0; d < disks.Length; d++)
            {
                byte[] bytes = new byte[random.Next(1, 40000)];
                random.NextBytes(bytes);
                long offset = random.NextInt64(0, Size - bytes.Length);
                using (var file = new FileStream(disks[d], FileMode.Open, FileAccess.Write))
                {
                    file.Position = offset;
                    file.Write(bytes);
                }

                bytes.CopyTo(model[d], offset);
            }

            using (ChildProcess child = Start(kind, location, "replicate", -1, step, disks))
            {
                ReadUntil(child, "gate " + step, $"resync to be killed after '{step}'");
                child.Kill();
            }

            Run(kind, location, Rerun(kind), seed: -1, gate: "-", disks);
            await AssertNewestPointEqualsAsync(kind, location, model, $"after a resync killed following '{step}'");
        }
    }

    [Theory]
    [MemberData(nameof(Sites))]
    public async Task An_initial_replication_killed_during_its_copy_resumes_from_its_checkpoint(string kind)
    {
        string location = kind == "local" ? _dir.File("site") : await Azurite.NewContainerAsync();
        string[] disks = [NewDisk("a.raw", 3, full: true, size: 4 * Size), NewDisk("b.raw", 4, full: true, size: 4 * Size)];
        byte[][] model = [.. disks.Select(File.ReadAllBytes)];
        var random = new Random(kind == "local" ? 5 : 6);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            // Killed once the copy has checkpointed some of its way (the bandwidth limit keeps it going long enough).
            using ChildProcess child = Start(kind, location, attempt == 0 ? "protect" : Rerun(kind), seed: -1, gate: "-", disks);
            int wanted = random.Next(1, 4);
            int seen = 0;
            while (child.ReadLine() is { } line)
            {
                if (line.StartsWith("progress ", StringComparison.Ordinal) && long.Parse(line[9..], CultureInfo.InvariantCulture) > 0 && ++seen >= wanted)
                {
                    child.Kill();
                    break;
                }

                Assert.False(line.StartsWith("done ", StringComparison.Ordinal), "the copy finished before it could be killed");
            }
        }

        string done = Run(kind, location, Rerun(kind), seed: -1, gate: "-", disks);
        long sent = long.Parse(done.Split(' ')[2], CultureInfo.InvariantCulture);
        Assert.True(sent < 8 * Size, $"the resumed copy sent {sent} bytes: the checkpointed part was sent again");

        // The killed trackers left regions that may hold writes no log has: the next run resynchronises them.
        Run(kind, location, Rerun(kind), seed: -1, gate: "-", disks);
        await AssertNewestPointEqualsAsync(kind, location, model, "after two killed copies");
    }

    public void Dispose() => _dir.Dispose();

    private static string Rerun(string kind) => kind == "local" ? "replicate" : "replicate-break";

    private string NewDisk(string name, int seed, bool full = false, long size = Size)
    {
        string path = _dir.File(name);
        byte[] content = full ? new byte[size] : DiskKinds.ScatteredContent(size, seed);
        if (full)
        {
            new Random(seed).NextBytes(content);
        }

        File.WriteAllBytes(path, content);
        return path;
    }

    private static void Apply(byte[][] model, int seed)
    {
        for (int d = 0; d < model.Length; d++)
        {
            for (int i = 0; i < EngineWorkload.Writes; i++)
            {
                (long offset, byte[] data) = CrashWorkload.Write((seed * 10) + d, i, Size, EngineWorkload.MaxWriteLength);
                data.CopyTo(model[d], offset);
            }
        }
    }

    private static ChildProcess Start(string kind, string location, string action, int seed, string gate, string[] disks) =>
        ChildProcess.StartDotnet(RepoPaths.TestChildDll, ["engine", kind, location, "m", action, seed.ToString(CultureInfo.InvariantCulture), gate, .. disks]);

    /// <summary>Runs the child to its end; returns its "done" line.</summary>
    private static string Run(string kind, string location, string action, int seed, string gate, string[] disks)
    {
        using ChildProcess child = Start(kind, location, action, seed, gate, disks);
        string? done = null;
        while (child.ReadLine() is { } line)
        {
            if (line.StartsWith("done ", StringComparison.Ordinal))
            {
                done = line;
            }
        }

        (int exitCode, string stderr) = child.WaitForExit();
        Assert.True(exitCode == 0 && done is not null, $"{action} exited {exitCode}: {stderr}");
        return done!;
    }

    private static void ReadUntil(ChildProcess child, string expected, string what)
    {
        var lines = new List<string>();
        while (child.ReadLine() is { } line)
        {
            lines.Add(line);
            if (line == expected)
            {
                return;
            }
        }

        (_, string stderr) = child.WaitForExit();
        throw new Xunit.Sdk.XunitException($"the {what} never reached it:\n{string.Join('\n', lines)}\n{stderr}");
    }

    private static async Task AssertNewestPointEqualsAsync(string kind, string location, byte[][] model, string context)
    {
        IReplicationSite site = kind == "local" ? new LocalReplicationSite(location) : new AzureReplicationSite(Azurite.ConnectionString, location);
        var engine = new ReplicationEngine();
        ItemStatus status = await engine.GetStatusAsync(site, "m");
        Assert.True(status.State == ProtectionState.Protected, $"{context}: {status.State} ({status.LastError?.Message})");
        IReadOnlyList<IVirtualDisk> point = await engine.OpenRecoveryPointAsync(site, "m", status.LastRecoveryPoint!.Id);
        try
        {
            for (int i = 0; i < model.Length; i++)
            {
                DiskAssert.ContentEquals(model[i], point[i]);
            }
        }
        finally
        {
            foreach (IVirtualDisk disk in point)
            {
                disk.Dispose();
            }
        }

        foreach (RecoveryPointInfo retained in await engine.ListRecoveryPointsAsync(site, "m"))
        {
            IReadOnlyList<IVirtualDisk> opened = await engine.OpenRecoveryPointAsync(site, "m", retained.Id);
            foreach (IVirtualDisk disk in opened)
            {
                disk.Dispose();
            }
        }
    }
}
