using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Restart;

/// <summary>A host that stops while a job runs asks the job to stop; the job stays in progress and the next start finishes it, once.</summary>
public sealed class ShutdownTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Stopping_the_host_stops_a_running_cycle_which_the_next_start_completes_once()
    {
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        DateTimeOffset start;
        await using (TestHost host = await TestHost.StartAsync(_dir.Path))
        {
            start = host.Clock.GetUtcNow();
            await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);
            host.Operations.BlockNextCycle();
            host.AdvanceTo(start + frequency);
            Assert.Equal("blocked cycle", (await host.Operations.NextCallAsync()).Kind);

            // Disposing stops the host; without the interruption the cycle would still be running (and its job not told).
        }

        JobRecord stopped = Assert.Single(await OpenStoreJobsAsync());
        Assert.Equal((JobKind.DeltaCycle, JobState.InProgress), (stopped.Kind, stopped.State));
        Assert.Contains(stopped.Steps, s => s.Name == "stopped by the host shutting down");

        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(start + frequency) { AutoAdvanceAmount = TimeSpan.Zero };
        await using (TestHost again = await TestHost.StartAsync(_dir.Path, clock))
        {
            Assert.Equal("cycle", (await again.Operations.NextCallAsync()).Kind);
            JobRecord done = await again.WaitForAsync(async () => await again.Service.Store.GetJobAsync(stopped.Id) is { State: JobState.Succeeded } j ? j : null);
            Assert.Equal(stopped.Id, done.Id);
            Assert.Contains(done.Steps, s => s.Name.StartsWith("resumed on", StringComparison.Ordinal));
            Assert.False(again.Operations.HasUnreadCall, "the interrupted cycle ran more than once");
        }

        Assert.Single(await OpenStoreJobsAsync());
    }

    private async Task<IReadOnlyList<JobRecord>> OpenStoreJobsAsync()
    {
        await using var store = Replication.Hosting.Storage.SqlReplicationStore.Sqlite(Path.Combine(_dir.Path, "host.db"));
        IReadOnlyList<JobRecord> jobs = await store.ListJobsAsync();
        var withSteps = new List<JobRecord>();
        foreach (JobRecord job in jobs)
        {
            withSteps.Add((await store.GetJobAsync(job.Id))!);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return withSteps;
    }

    public void Dispose() => _dir.Dispose();
}
