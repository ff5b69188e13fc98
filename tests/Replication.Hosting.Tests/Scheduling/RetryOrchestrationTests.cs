using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Scheduling;

/// <summary>The documented retry schedule, critical on a non-recoverable failure, and the resync window, on a fake clock.</summary>
public sealed class RetryOrchestrationTests : IDisposable
{
    private static readonly int[] Minutes = [1, 3, 7, 15, 25, 55, 85];
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Recoverable_failures_retry_at_1_3_7_15_25_then_every_30_minutes_and_a_success_resets_it()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        TimeSpan frequency = TimeSpan.FromMinutes(5);
        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);
        host.Operations.FailNext([.. Enumerable.Range(0, 1 + Minutes.Length).Select(_ => FakeItemOperations.Recoverable())]);

        DateTimeOffset first = host.Clock.GetUtcNow() + frequency;
        host.AdvanceTo(first);
        Assert.Equal(first, (await host.Operations.NextCallAsync()).At);
        foreach (int minutes in Minutes)
        {
            // The next attempt is recorded before it is due, on the item and its job: what 'repl jobs' shows as nextAttempt.
            JobRecord waiting = await WaitForJobStateAsync(host, "vm", JobState.WaitingForRetry);
            Assert.Equal(first.AddMinutes(minutes), waiting.NextAttempt);
            Assert.Equal(first.AddMinutes(minutes), (await host.Service.Store.GetItemAsync("vm"))!.NextAttempt);
            host.AdvanceTo(first.AddMinutes(minutes));
            Assert.Equal(first.AddMinutes(minutes), (await host.Operations.NextCallAsync()).At);
        }

        // The eighth retry (+115 minutes) succeeds: the same job completes once, after 9 attempts; cycles resume at the frequency.
        JobRecord last = await WaitForJobStateAsync(host, "vm", JobState.WaitingForRetry);
        host.AdvanceTo(first.AddMinutes(115));
        Assert.Equal(first.AddMinutes(115), (await host.Operations.NextCallAsync()).At);
        JobRecord done = await WaitForJobAsync(host, last.Id, j => j.State == JobState.Succeeded);
        Assert.Equal(9, done.Attempt);
        Assert.Equal(first, done.Started);
        Assert.Equal(first.AddMinutes(115), done.Ended);
        Assert.Single(await host.Service.ListJobsAsync("vm"));

        HostedItem item = (await host.Service.Store.GetItemAsync("vm"))!;
        Assert.Equal((HostedItemState.Healthy, 0, null), (item.State, item.RetryAttempt, item.NextAttempt));
        host.AdvanceTo(first.AddMinutes(115) + frequency);
        Assert.Equal(first.AddMinutes(115) + frequency, (await host.Operations.NextCallAsync()).At);

        // A new failure starts the schedule afresh from that failure.
        host.Operations.FailNext(FakeItemOperations.Recoverable());
        DateTimeOffset second = first.AddMinutes(115) + (frequency * 2);
        host.AdvanceTo(second);
        Assert.Equal(second, (await host.Operations.NextCallAsync()).At);
        Assert.Equal(second.AddMinutes(1), (await WaitForJobStateAsync(host, "vm", JobState.WaitingForRetry)).NextAttempt);
    }

    [Fact]
    public async Task A_restart_keeps_the_retry_schedule()
    {
        DateTimeOffset first;
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestHost.Monday10);
        await using (TestHost host = await TestHost.StartAsync(_dir.Path, clock))
        {
            await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = TimeSpan.FromMinutes(5) }, protectionState: ProtectionState.Protected);
            host.Operations.FailNext(FakeItemOperations.Recoverable(), FakeItemOperations.Recoverable(), FakeItemOperations.Recoverable());
            first = clock.GetUtcNow().AddMinutes(5);
            host.AdvanceTo(first);
            await host.Operations.NextCallAsync();
            await WaitForJobStateAsync(host, "vm", JobState.WaitingForRetry);
            host.AdvanceTo(first.AddMinutes(1));
            await host.Operations.NextCallAsync();
            Assert.Equal(first.AddMinutes(3), (await WaitForJobStateAsync(host, "vm", JobState.WaitingForRetry)).NextAttempt);
        }

        // A new process (same database), started a minute later: the third attempt is still at +3 minutes, the fourth at +7.
        clock.Advance(TimeSpan.FromMinutes(1));
        await using (TestHost again = await TestHost.StartAsync(_dir.Path, clock))
        {
            again.Operations.FailNext(FakeItemOperations.Recoverable());
            again.AdvanceTo(first.AddMinutes(3));
            FakeItemOperations.Call call = await again.Operations.NextCallAsync();
            Assert.Equal(first.AddMinutes(3), call.At);
            JobRecord job = await WaitForJobStateAsync(again, "vm", JobState.WaitingForRetry);
            Assert.Equal((3, first.AddMinutes(7)), (job.Attempt, job.NextAttempt));
        }
    }

    [Fact]
    public async Task A_non_recoverable_failure_leaves_the_item_critical_until_an_operator_resumes_it()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);
        host.Operations.FailNext(FakeItemOperations.NonRecoverable());
        DateTimeOffset failedAt = host.Clock.GetUtcNow() + frequency;
        host.AdvanceTo(failedAt);
        await host.Operations.NextCallAsync();

        JobRecord failed = await WaitForJobStateAsync(host, "vm", JobState.Failed);
        Assert.Equal(("nonRecoverable", failedAt, (DateTimeOffset?)null), (failed.Error!.Category, failed.Ended!.Value, failed.NextAttempt));
        HostedItem item = (await host.Service.Store.GetItemAsync("vm"))!;
        Assert.Equal(HostedItemState.Critical, item.State);
        Assert.Contains("SAS has expired", item.CriticalReason, StringComparison.Ordinal);
        HealthReport health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Contains("SAS has expired", health.Entries["replication"].Description, StringComparison.Ordinal);

        // An hour passes: nothing runs (the next call the test sees is the one after resuming, at the resume time).
        host.AdvanceTo(failedAt.AddHours(1));
        await host.Service.ResumeItemAsync("vm");
        FakeItemOperations.Call resumed = await host.Operations.NextCallAsync();
        Assert.Equal(failedAt.AddHours(1), resumed.At);
        Assert.Equal(HostedItemState.Healthy, (await WaitForItemAsync(host, "vm", i => i.LastRecoveryPointAt == resumed.At)).State);
        Assert.Equal(HealthStatus.Healthy, (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status);
    }

    [Fact]
    public async Task A_required_resync_waits_for_the_window_and_a_requested_one_does_not()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);
        host.Operations.ResyncRequired = true;

        // Monday 10:00:30 UTC, inside business hours (08:00-18:00 UTC): the cycle finds a resync required and it waits.
        host.AdvanceTo(TestHost.Monday10 + frequency);
        HostedItem waiting = await WaitForItemAsync(host, "vm", i => i.State == HostedItemState.WaitingForResyncWindow);
        Assert.Null(waiting.LastRecoveryPointAt);
        ItemScheduler scheduler = host.Services.GetRequiredService<ItemScheduler>();
        DateTimeOffset? windowOpens = null;
        for (int i = 0; i < 1000 && windowOpens is null; i++)
        {
            windowOpens = await scheduler.NextResyncAsync("vm", CancellationToken.None);
        }

        Assert.Equal(new DateTimeOffset(2026, 3, 2, 18, 0, 0, TimeSpan.Zero), windowOpens);
        host.AdvanceTo(windowOpens!.Value);
        FakeItemOperations.Call resync = await host.Operations.NextCallAsync();
        Assert.Equal(("resync", windowOpens.Value), (resync.Kind, resync.At));
        // 18:00:00 is also a cycle tick: whichever trigger ran first did the resync (the window is open), the other a cycle.
        JobRecord resyncJob = await host.WaitForAsync(async () => (await host.Service.ListJobsAsync("vm")).FirstOrDefault(j => j.Kind == JobKind.Resync && j.State == JobState.Succeeded));
        Assert.Equal(windowOpens.Value, resyncJob.Started);

        // Tuesday 09:00, business hours again: an operator's resync runs at once, without waiting for the window.
        DateTimeOffset tuesday9 = new(2026, 3, 3, 9, 0, 0, TimeSpan.Zero);
        host.AdvanceTo(tuesday9);
        while (host.Operations.HasUnreadCall)
        {
            Assert.Equal("cycle", (await host.Operations.NextCallAsync()).Kind);
        }

        await host.Service.RequestResyncAsync("vm");
        FakeItemOperations.Call manual;
        do
        {
            manual = await host.Operations.NextCallAsync();
        }
        while (manual.Kind == "cycle");

        Assert.Equal(("resync", tuesday9), (manual.Kind, manual.At));
    }

    private static Task<JobRecord> WaitForJobStateAsync(TestHost host, string item, JobState state) =>
        host.WaitForAsync(async () => (await host.Service.ListJobsAsync(item, 1)) is [var job] && job.State == state ? job : null);

    private static Task<JobRecord> WaitForJobAsync(TestHost host, string id, Func<JobRecord, bool> done) =>
        host.WaitForAsync(async () => await host.Service.GetJobAsync(id) is { } job && done(job) ? job : null);

    private static Task<HostedItem> WaitForItemAsync(TestHost host, string name, Func<HostedItem, bool> done) =>
        host.WaitForAsync(async () => await host.Service.Store.GetItemAsync(name) is { } item && done(item) ? item : null);

    public void Dispose() => _dir.Dispose();
}
