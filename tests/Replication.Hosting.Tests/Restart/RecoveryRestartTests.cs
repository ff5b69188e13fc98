using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Jobs;
using Replication.Hosting.Storage;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Restart;

/// <summary>
/// The host process SIGKILLed during a recovery plan's run (test failover, planned failover, commit, failback, and the
/// plan's own job), right after a durable step; started again on the same database, the run resumes as itself and
/// completes once: every item's operation has one job, none is done twice (no recovery point made twice, one recovered
/// copy), and the recovered and primary disks end holding what they should, byte for byte.
/// </summary>
public sealed class RecoveryRestartTests : IDisposable
{
    private const long Size = 2 << 20;
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly string[] Items = ["vm0", "vm1"];
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData("TestFailover", "TestFailover/in recovery plan run")]
    [InlineData("TestFailover", "TestFailover/completed at the site")]
    [InlineData("PlannedFailover", "PlannedFailover/failover begun")]
    [InlineData("PlannedFailover", "PlannedFailover/source shut down")]
    [InlineData("PlannedFailover", "PlannedFailover/point disk 0")]
    [InlineData("PlannedFailover", "PlannedFailover/failed over")]
    [InlineData("PlannedFailover", "PlannedFailover/completed at the site")]
    [InlineData("PlannedFailover", "RecoveryPlan/group 1 succeeded")]
    [InlineData("Commit", "Commit/commit recorded")]
    [InlineData("Commit", "Commit/completed at the site")]
    [InlineData("Failback", "Failback/failback begun")]
    [InlineData("Failback", "Failback/synchronised disk 0")]
    [InlineData("Failback", "Failback/recovered stopped")]
    [InlineData("Failback", "Failback/completed at the site")]
    public async Task A_plan_run_killed_at_a_step_resumes_once_when_the_host_starts_again(string operation, string step)
    {
        string output = _dir.File("recovered");
        string[] disks = [.. Items.Select(i => _dir.File(i + ".raw"))];
        for (int i = 0; i < disks.Length; i++)
        {
            File.WriteAllBytes(disks[i], TestDisks.Content(Size, seed: 50 + i));
        }

        byte[][] expected;
        int pointsBefore;
        using (var first = new HostChild(_dir.Path, Start, step))
        {
            await first.WaitForAsync("ready");
            for (int i = 0; i < Items.Length; i++)
            {
                first.Send($"add {Items[i]} 30 {disks[i]}");
                await first.WaitForAsync(l => l.StartsWith("job ", StringComparison.Ordinal) && l.Contains($" EnableProtection {Items[i]} Succeeded ", StringComparison.Ordinal));
            }

            if (operation == "PlannedFailover")
            {
                // Written after the first point: the planned failover's final cycle ships them, and the recovered disks equal the primary.
                for (int i = 0; i < disks.Length; i++)
                {
                    await TestDisks.WriteTrackedAsync(disks[i], seed: i + 1, writes: 20);
                }
            }

            if (operation is "Commit" or "Failback")
            {
                await RunPlanAsync(first, "prepare", "UnplannedFailover", output);
            }

            if (operation == "Failback")
            {
                await RunPlanAsync(first, "prepare", "Commit", output);

                // The recovered machines ran and wrote: failing back brings what they hold to the primary's disks.
                for (int i = 0; i < Items.Length; i++)
                {
                    using VirtualDisk recovered = VirtualDisk.Open(RecoveredDisk(output, Items[i]));
                    byte[] written = new byte[64 * 1024];
                    new Random(70 + i).NextBytes(written);
                    recovered.Write(4096 * (i + 1), written);
                    recovered.Flush();
                }
            }

            expected = operation == "Failback"
                ? [.. Items.Select(i => TestDisks.ReadWhole(RecoveredDisk(output, i)))]
                : [.. disks.Select(TestDisks.ReadWhole)];
            pointsBefore = (await PointsAsync(Items[0])).Count;
            first.Send($"plan p {operation} {output} {string.Join(' ', Items)}");
            string[] at = step.Split('/');
            await first.WaitForAsync(l => l.StartsWith("step ", StringComparison.Ordinal) && l.Contains($" {at[0]} ", StringComparison.Ordinal)
                && (l.EndsWith(" " + at[1], StringComparison.Ordinal) || l.Contains(" " + at[1] + " ", StringComparison.Ordinal)));
            first.Kill();
        }

        // Started again at the same instant, so that no cycle comes due and every recovery point is the run's.
        using (var second = new HostChild(_dir.Path, Start, "none"))
        {
            await second.WaitForAsync(l => l.StartsWith("job ", StringComparison.Ordinal) && l.Contains(" RecoveryPlan p ", StringComparison.Ordinal) && !l.Contains(" InProgress ", StringComparison.Ordinal));
            second.Send("exit");
            await second.WaitForAsync("ok");
            Assert.Equal(0, second.WaitForExit());
        }

        // One run of the operation, resumed once, succeeded; one job per item for it, succeeded, and nothing left open.
        await using SqlReplicationStore store = SqlReplicationStore.Sqlite(_dir.File("host.db"));
        JobKind kind = Enum.Parse<JobKind>(operation);
        JobRecord run = (await store.ListJobsAsync("p")).First();
        run = (await store.GetJobAsync(run.Id))!;
        Assert.Equal((JobState.Succeeded, 1, (JobError?)null), (run.State, run.Attempt, run.Error));
        Assert.Single(run.Steps, s => s.Name.StartsWith("resumed on child after an interruption", StringComparison.Ordinal));
        Assert.Single(run.Steps, s => s.Name == "group 1 succeeded");
        Assert.Single(run.Steps, s => s.Name == "group 2 succeeded");
        foreach (string item in Items)
        {
            IReadOnlyList<JobRecord> jobs = await store.ListJobsAsync(item);
            Assert.Single(jobs, j => j.Kind == kind);
            Assert.DoesNotContain(jobs, j => j.State != JobState.Succeeded);
        }

        ProtectionState state = operation switch
        {
            "TestFailover" => ProtectionState.Protected,
            "PlannedFailover" => ProtectionState.FailedOver,
            "Commit" => ProtectionState.Committed,
            _ => ProtectionState.FailedBack,
        };
        var engine = new ReplicationEngine();
        var site = new LocalReplicationSite(_dir.File("site"));
        for (int i = 0; i < Items.Length; i++)
        {
            ItemStatus status = await engine.GetStatusAsync(site, Items[i]);
            Assert.Equal(state, status.State);
            Assert.Equal(operation == "TestFailover", status.TestFailoverActive);
            Assert.Equal(state, (await store.GetItemAsync(Items[i]))!.ProtectionState);

            // No point made twice: a planned failover adds its final point once; a commit keeps the failed-over one only.
            IReadOnlyList<RecoveryPointInfo> points = await PointsAsync(Items[i]);
            Assert.Equal(points.Select(p => p.Cycle).Distinct().Count(), points.Count);
            int expectedPoints = operation switch
            {
                "PlannedFailover" => pointsBefore + 1,
                "Commit" or "Failback" => 1,
                _ => pointsBefore,
            };
            Assert.Equal(expectedPoints, points.Count);

            if (operation == "Failback")
            {
                Assert.True(expected[i].AsSpan().SequenceEqual(TestDisks.ReadWhole(disks[i])), $"{Items[i]}: the primary's disk differs from the recovered one it failed back from");
            }
            else if (operation != "Commit")
            {
                // One recovered copy, equal to the primary's disk (its point).
                Assert.Equal([$"{Items[i]}-disk-0.vhdx", $"{Items[i]}.machine.json"], Directory.GetFiles(Path.Combine(output, Items[i])).Select(Path.GetFileName).Order(StringComparer.Ordinal));
                Assert.True(expected[i].AsSpan().SequenceEqual(TestDisks.ReadWhole(RecoveredDisk(output, Items[i]))), $"{Items[i]}: the recovered disk differs from the primary's");
            }
        }

        async Task<IReadOnlyList<RecoveryPointInfo>> PointsAsync(string item) => await new ReplicationEngine().ListRecoveryPointsAsync(new LocalReplicationSite(_dir.File("site")), item);
    }

    private static string RecoveredDisk(string output, string item) => Path.Combine(output, item, item + "-disk-0.vhdx");

    private static async Task RunPlanAsync(HostChild host, string plan, string operation, string output)
    {
        host.Send($"plan {plan} {operation} {output} {string.Join(' ', Items)}");
        string done = await host.WaitForAsync(l => l.StartsWith("job ", StringComparison.Ordinal) && l.Contains($" RecoveryPlan {plan} ", StringComparison.Ordinal) && !l.Contains(" InProgress ", StringComparison.Ordinal));
        Assert.Contains(" Succeeded ", done, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
