using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Jobs;
using Replication.Hosting.Storage;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Restart;

/// <summary>
/// The host process SIGKILLed during each kind of job it runs, right after a durable step; started again (a later clock,
/// the same database), the interrupted job resumes as itself and completes once, and the replica ends equal to the disks.
/// </summary>
public sealed class HostRestartTests : IDisposable
{
    private const long Size = 4 << 20;
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData("EnableProtection", "copy begun disk 1")]
    [InlineData("EnableProtection", "copied disk 0")]
    [InlineData("DeltaCycle", "rotated")]
    [InlineData("DeltaCycle", "shipped disk 0")]
    [InlineData("DeltaCycle", "point disk 1")]
    [InlineData("Resync", "copy begun disk 0")]
    [InlineData("Resync", "copies recorded")]
    public async Task A_job_killed_at_a_step_resumes_once_when_the_host_starts_again_and_the_replica_equals_the_disks(string kind, string step)
    {
        string[] disks = [_dir.File("vm-0.raw"), _dir.File("vm-1.raw")];
        for (int i = 0; i < disks.Length; i++)
        {
            File.WriteAllBytes(disks[i], TestDisks.Content(Size, seed: 30 + i));
        }

        string interrupted;
        using (var first = new HostChild(_dir.Path, Start, $"{kind}/{step}"))
        {
            await first.WaitForAsync("ready");
            first.Send($"add vm 30 {string.Join(' ', disks)}");
            if (kind != nameof(JobKind.EnableProtection))
            {
                await first.WaitForAsync(l => l.StartsWith("job ", StringComparison.Ordinal) && l.Contains(" EnableProtection vm Succeeded ", StringComparison.Ordinal));
                for (int i = 0; i < disks.Length; i++)
                {
                    await TestDisks.WriteTrackedAsync(disks[i], seed: 1 + i, writes: 30);
                }

                first.Send(kind == nameof(JobKind.Resync) ? "resync vm" : "advance 30");
            }

            string stopped = await first.WaitForAsync(l => l.StartsWith("step ", StringComparison.Ordinal) && l.EndsWith($" {kind} vm {step}", StringComparison.Ordinal));
            interrupted = stopped.Split(' ')[1];
            first.Kill();
        }

        // Ten minutes later (the cycle's trigger misfired meanwhile), the host starts again on the same database. The
        // interrupted job is its only run: the misfire either resumes it or, held back while it runs, is replaced when it
        // ends with its point (the cycles start over one interval on), so nothing is running when it is told to exit.
        using (var second = new HostChild(_dir.Path, Start.AddMinutes(10), "none"))
        {
            // The process that held the disks' trackers died with them open: the engine then resyncs their write-intent
            // regions instead of trusting the logs, so an interrupted cycle completes as a resync (the same job, its kind
            // updated).
            string done = await second.WaitForAsync(l => l.StartsWith($"job {interrupted} ", StringComparison.Ordinal) && l.Contains(" vm Succeeded ", StringComparison.Ordinal));
            string[] kinds = kind == nameof(JobKind.DeltaCycle) ? ["DeltaCycle", "Resync"] : [kind];
            Assert.Contains(done.Split(' ')[2], kinds);

            second.Send("exit");
            await second.WaitForAsync("ok");
            Assert.Equal(0, second.WaitForExit());
        }

        await using SqlReplicationStore store = SqlReplicationStore.Sqlite(_dir.File("host.db"));
        JobRecord resumed = (await store.GetJobAsync(interrupted))!;
        Assert.Equal((JobState.Succeeded, 1, (JobError?)null), (resumed.State, resumed.Attempt, resumed.Error));
        Assert.Single(resumed.Steps, s => s.Name.StartsWith("resumed on child after an interruption", StringComparison.Ordinal));
        IReadOnlyList<JobRecord> jobs = await store.ListJobsAsync("vm");
        Assert.DoesNotContain(jobs, j => j.State is JobState.InProgress or JobState.WaitingForRetry or JobState.Failed);
        Assert.Single(jobs, j => j.Kind == JobKind.EnableProtection);
        if (kind == nameof(JobKind.Resync))
        {
            Assert.Single(jobs, j => j.Kind == JobKind.Resync);
        }

        // Recovery points are numbered once each (none made twice), and the newest equals the disks.
        var site = new LocalReplicationSite(_dir.File("site"));
        var engine = new ReplicationEngine();
        IReadOnlyList<RecoveryPointInfo> points = await engine.ListRecoveryPointsAsync(site, "vm");
        Assert.Equal(points.Select(p => p.Cycle).Distinct().Count(), points.Count);
        IReadOnlyList<IVirtualDisk> replica = await engine.OpenRecoveryPointAsync(site, "vm", points[^1].Id);
        try
        {
            for (int i = 0; i < disks.Length; i++)
            {
                byte[] bytes = new byte[Size];
                replica[i].Read(0, bytes);
                Assert.True(File.ReadAllBytes(disks[i]).AsSpan().SequenceEqual(bytes), $"disk {i}: the replica differs from the disk");
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

    public void Dispose() => _dir.Dispose();
}
