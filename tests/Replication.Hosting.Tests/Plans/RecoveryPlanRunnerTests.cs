using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Plans;

/// <summary>Recovery plans on fake operations: groups in order, items of a group in parallel, pre/post actions, failures.</summary>
public sealed class RecoveryPlanRunnerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task A_plan_of_100_items_runs_its_groups_in_order_each_group_in_parallel_between_its_pre_and_post_actions()
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        RecoveryPlan plan = await AddPlanAsync(host, "dr", groups: 4, itemsPerGroup: 25);
        foreach (RecoveryPlanGroup group in plan.Groups)
        {
            recovery.MeetTogether([.. group.Items]);
        }

        RecoveryPlanReport report = await host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync("dr", Options(recovery, RecoveryPlanOperation.PlannedFailover));

        Assert.True(report.Succeeded, report.Describe());
        Assert.Empty(report.Failures);
        string[] log = [.. recovery.Log];
        Assert.Equal(100 * 2 + (4 * 3), log.Length);
        for (int g = 0; g < 4; g++)
        {
            // Group g's pre actions, in order, come before its first item starts; its post action after its last item ends;
            // and all of it before group g+1's first action.
            int pre1 = Array.IndexOf(log, $"pre:{g + 1}:lb-drain");
            int pre2 = Array.IndexOf(log, $"pre:{g + 1}:db-check");
            int post = Array.IndexOf(log, $"post:{g + 1}:dns");
            int[] starts = [.. plan.Groups[g].Items.Select(i => Array.FindIndex(log, l => l.StartsWith($"start:{i}:", StringComparison.Ordinal)))];
            int[] ends = [.. plan.Groups[g].Items.Select(i => Array.IndexOf(log, $"end:{i}"))];
            Assert.True(pre1 < pre2 && pre2 < starts.Min(), $"group {g + 1}: pre actions at {pre1}, {pre2}, first item at {starts.Min()}");
            Assert.True(ends.Max() < post, $"group {g + 1}: last item ended at {ends.Max()}, post action at {post}");
            if (g < 3)
            {
                Assert.True(post < Array.IndexOf(log, $"pre:{g + 2}:lb-drain"), $"group {g + 2} started before group {g + 1} ended");
            }

            // Every item of the group started before any of them ended: they ran in parallel.
            Assert.True(starts.Max() < ends.Min(), $"group {g + 1}: an item ended at {ends.Min()} before the last started at {starts.Max()}");
        }

        Assert.All(log.Where(l => l.StartsWith("start:", StringComparison.Ordinal)), l => Assert.EndsWith(":PlannedFailover", l, StringComparison.Ordinal));

        // One job per item (planned failover) and one for the plan; each item's record says it is failed over.
        IReadOnlyList<JobRecord> jobs = await host.Service.ListJobsAsync(limit: 1000);
        Assert.Equal(100, jobs.Count(j => j.Kind == JobKind.PlannedFailover && j.State == JobState.Succeeded));
        JobRecord planJob = Assert.Single(jobs, j => j.Kind == JobKind.RecoveryPlan);
        Assert.Equal(("dr", JobState.Succeeded, report.JobId), (planJob.Item, planJob.State, planJob.Id));
        // Its steps: what it does, the options a restart would resume it with, and each action and group as it ended.
        string[] steps = [.. (await host.Service.GetJobAsync(planJob.Id))!.Steps.Select(s => s.Name)];
        Assert.Equal(
            ["PlannedFailover of 100 items in 4 groups", .. Enumerable.Range(1, 4).SelectMany(g => new[]
            {
                $"group {g} pre action 'lb-drain' succeeded", $"group {g} pre action 'db-check' succeeded", $"group {g} post action 'dns' succeeded", $"group {g} succeeded",
            })],
            steps.Where(s => !s.StartsWith("options ", StringComparison.Ordinal)));
        Assert.StartsWith("options {\"Operation\":\"PlannedFailover\"", Assert.Single(steps, s => s.StartsWith("options ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.All(await host.Service.ListItemsAsync(), i => Assert.Equal(ProtectionState.FailedOver, i.ProtectionState));
    }

    [Fact]
    public async Task A_failed_item_stops_the_plan_after_its_group_with_a_report_naming_it_and_what_did_not_run()
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        await AddPlanAsync(host, "dr", groups: 3, itemsPerGroup: 3);
        recovery.Failures["g2-i1"] = FakeRecoveryOperations.NonRecoverable("g2-i1");

        RecoveryPlanReport report = await host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync("dr", Options(recovery, RecoveryPlanOperation.UnplannedFailover));

        Assert.False(report.Succeeded);
        Assert.Equal([RecoveryPlanStepState.Succeeded, RecoveryPlanStepState.Failed, RecoveryPlanStepState.NotRun], report.Groups.Select(g => g.State));
        // The failed item's group-mates ran (they run together); its post action and the next group did not.
        Assert.Equal(
            [("g2-i0", RecoveryPlanStepState.Succeeded), ("g2-i1", RecoveryPlanStepState.Failed), ("g2-i2", RecoveryPlanStepState.Succeeded)],
            report.Groups[1].Items.Select(i => (i.Item, i.State)));
        Assert.Equal(RecoveryPlanStepState.NotRun, report.Groups[1].Actions.Single(a => !a.IsPre).State);
        Assert.DoesNotContain(recovery.Log, l => l.Contains("g3-", StringComparison.Ordinal) || l.StartsWith("pre:3", StringComparison.Ordinal) || l == "post:2:dns");
        string failure = Assert.Single(report.Failures);
        Assert.Equal("group 2: item 'g2-i1' failed (nonRecoverable, InvalidState): 'g2-i1': the replica's record says FailedOver; a failover needs Protected", failure);
        Assert.Contains("Not run: group 3.", report.Describe(), StringComparison.Ordinal);

        // The plan's job failed with that report; the item's job with its own error; the items not reached have no job.
        JobRecord planJob = (await host.Service.GetJobAsync(report.JobId))!;
        Assert.Equal(JobState.Failed, planJob.State);
        Assert.Equal(("nonRecoverable", ReplicationErrorCode.InvalidState), (planJob.Error!.Category, planJob.Error.Code));
        Assert.Contains("g2-i1", planJob.Error.Message, StringComparison.Ordinal);
        JobRecord itemJob = Assert.Single(await host.Service.ListJobsAsync("g2-i1"));
        Assert.Equal((JobKind.UnplannedFailover, JobState.Failed, "nonRecoverable"), (itemJob.Kind, itemJob.State, itemJob.Error!.Category));
        Assert.Empty(await host.Service.ListJobsAsync("g3-i0"));
        Assert.Equal(ProtectionState.Protected, (await host.Service.Store.GetItemAsync("g2-i1"))!.ProtectionState);
        Assert.Equal(ProtectionState.FailedOver, (await host.Service.Store.GetItemAsync("g2-i0"))!.ProtectionState);
    }

    [Fact]
    public async Task With_continue_on_failure_every_group_runs_and_the_report_still_names_the_failure()
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        await AddPlanAsync(host, "dr", groups: 3, itemsPerGroup: 2);
        recovery.Failures["g1-i1"] = new IOException("/dr/g1-i1-disk-0.vhdx: No space left on device");

        RecoveryPlanReport report = await host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync(
            "dr", Options(recovery, RecoveryPlanOperation.TestFailover, continueOnFailure: true));

        Assert.False(report.Succeeded);
        Assert.Equal([RecoveryPlanStepState.Failed, RecoveryPlanStepState.Succeeded, RecoveryPlanStepState.Succeeded], report.Groups.Select(g => g.State));
        Assert.Contains("post:1:dns", recovery.Log);
        Assert.Contains("end:g3-i1", recovery.Log);
        string failure = Assert.Single(report.Failures);
        Assert.StartsWith("group 1: item 'g1-i1' failed (", failure, StringComparison.Ordinal);
        Assert.Contains("No space left on device", failure, StringComparison.Ordinal);
        Assert.Equal(6, (await host.Service.ListJobsAsync(limit: 100)).Count(j => j.Kind == JobKind.TestFailover));
    }

    [Fact]
    public async Task A_failed_pre_action_leaves_its_group_untouched_and_stops_the_plan()
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        await AddPlanAsync(host, "dr", groups: 2, itemsPerGroup: 2);
        RecoveryPlanRunOptions options = Options(recovery, RecoveryPlanOperation.PlannedFailover, failingAction: "db-check");

        RecoveryPlanReport report = await host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync("dr", options);

        Assert.Equal([RecoveryPlanStepState.Failed, RecoveryPlanStepState.NotRun], report.Groups.Select(g => g.State));
        Assert.Equal(["pre:1:lb-drain", "pre:1:db-check"], recovery.Log);
        Assert.All(report.Groups[0].Items, i => Assert.Equal(RecoveryPlanStepState.NotRun, i.State));
        Assert.Equal("group 1: pre action 'db-check' failed: db-check: the database did not answer", Assert.Single(report.Failures));
    }

    [Fact]
    public async Task A_plan_naming_an_action_or_item_the_run_lacks_is_refused_before_anything_runs()
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        await AddPlanAsync(host, "dr", groups: 2, itemsPerGroup: 1);
        RecoveryPlanRunner runner = host.Services.GetRequiredService<RecoveryPlanRunner>();

        ArgumentException action = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync(
            "dr", new RecoveryPlanRunOptions { Operation = RecoveryPlanOperation.TestFailover, Actions = new Dictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>>() }));
        Assert.Contains("group 1 names action 'lb-drain', which this run does not supply", action.Message, StringComparison.Ordinal);

        await host.Service.Store.SavePlanAsync(new RecoveryPlan { Name = "ghost", Groups = [new RecoveryPlanGroup { Items = ["g1-i0", "nobody"] }] });
        ReplicationException item = await Assert.ThrowsAsync<ReplicationException>(() => runner.RunAsync("ghost", Options(recovery, RecoveryPlanOperation.TestFailover)));
        Assert.Equal(ReplicationErrorCode.NotFound, item.Code);
        Assert.Contains("'nobody'", item.Message, StringComparison.Ordinal);

        Assert.Equal(ReplicationErrorCode.NotFound, (await Assert.ThrowsAsync<ReplicationException>(() => runner.RunAsync("none", Options(recovery, RecoveryPlanOperation.TestFailover)))).Code);
        Assert.Empty(recovery.Log);
        Assert.Empty(await host.Service.ListJobsAsync());
    }

    [Theory]
    [InlineData(RecoveryPlanOperation.TestFailover, JobKind.TestFailover, ProtectionState.Protected)]
    [InlineData(RecoveryPlanOperation.TestFailoverCleanup, JobKind.TestFailoverCleanup, ProtectionState.Protected)]
    [InlineData(RecoveryPlanOperation.PlannedFailover, JobKind.PlannedFailover, ProtectionState.FailedOver)]
    [InlineData(RecoveryPlanOperation.UnplannedFailover, JobKind.UnplannedFailover, ProtectionState.FailedOver)]
    [InlineData(RecoveryPlanOperation.Commit, JobKind.Commit, ProtectionState.Committed)]
    [InlineData(RecoveryPlanOperation.Failback, JobKind.Failback, ProtectionState.FailedBack)]
    [InlineData(RecoveryPlanOperation.ReverseReplication, JobKind.ReverseReplication, ProtectionState.Protected)]
    public async Task Each_operation_runs_as_its_job_kind_and_records_the_items_state(RecoveryPlanOperation operation, JobKind kind, ProtectionState state)
    {
        var recovery = new FakeRecoveryOperations();
        await using TestHost host = await TestHost.StartAsync(_dir.Path, recovery: recovery);
        await AddPlanAsync(host, "dr", groups: 1, itemsPerGroup: 2);

        RecoveryPlanReport report = await host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync("dr", Options(recovery, operation));

        Assert.True(report.Succeeded, report.Describe());
        Assert.All(await host.Service.ListItemsAsync(), i => Assert.Equal(state, i.ProtectionState));
        Assert.Equal(2, (await host.Service.ListJobsAsync()).Count(j => j.Kind == kind && j.State == JobState.Succeeded));
    }

    /// <summary>Items g{G}-i{I}, already protected, in <paramref name="groups"/> groups each with two pre actions and one post action.</summary>
    private static async Task<RecoveryPlan> AddPlanAsync(TestHost host, string name, int groups, int itemsPerGroup)
    {
        var plan = new RecoveryPlan { Name = name, Groups = [] };
        for (int g = 1; g <= groups; g++)
        {
            var group = new RecoveryPlanGroup { PreActions = ["lb-drain", "db-check"], PostActions = ["dns"] };
            for (int i = 0; i < itemsPerGroup; i++)
            {
                string item = string.Create(CultureInfo.InvariantCulture, $"g{g}-i{i}");
                await host.Service.AddItemAsync(item, ["/disks/" + item + ".vhdx"], protectionState: ProtectionState.Protected);
                group.Items.Add(item);
            }

            plan.Groups.Add(group);
        }

        await host.Service.Store.SavePlanAsync(plan);
        return plan;
    }

    private static RecoveryPlanRunOptions Options(FakeRecoveryOperations recovery, RecoveryPlanOperation operation, string? failingAction = null, bool continueOnFailure = false)
    {
        Func<RecoveryPlanActionContext, CancellationToken, Task> action = (context, _) =>
        {
            recovery.Log.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{(context.IsPre ? "pre" : "post")}:{context.Group}:{context.Action}"));
            return context.Action == failingAction ? throw new InvalidOperationException($"{context.Action}: the database did not answer") : Task.CompletedTask;
        };
        return new RecoveryPlanRunOptions
        {
            Operation = operation,
            ContinueOnFailure = continueOnFailure,
            OutputDirectory = "/dr",
            Actions = new Dictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>> { ["lb-drain"] = action, ["db-check"] = action, ["dns"] = action },
        };
    }

    public void Dispose() => _dir.Dispose();
}
