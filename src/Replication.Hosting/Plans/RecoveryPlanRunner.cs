using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Storage;

namespace Replication.Hosting.Plans;

/// <summary>
/// Runs a recovery plan: its groups one after another, each group's pre actions in order, then its items in parallel,
/// then its post actions in order. Every item's operation is a job of its own (with the engine's steps), the run a
/// <see cref="JobKind.RecoveryPlan"/> job whose steps say what each group did. A failed item or action stops the run
/// after its group (or not, by <see cref="RecoveryPlanRunOptions.ContinueOnFailure"/>); the report says what failed and
/// what did not run. A scheduled cycle of an item never runs beside the plan's operation on it.
/// </summary>
public sealed class RecoveryPlanRunner
{
    private readonly IReplicationStore _store;
    private readonly IRecoveryOperations _operations;
    private readonly ItemGate _gate;
    private readonly JobRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ReplicationHostOptions _options;
    private readonly ILogger<RecoveryPlanRunner> _logger;

    internal RecoveryPlanRunner(
        IReplicationStore store, IRecoveryOperations operations, ItemGate gate, JobRecorder recorder, TimeProvider time,
        IOptions<ReplicationHostOptions> options, ILogger<RecoveryPlanRunner> logger)
    {
        _store = store;
        _operations = operations;
        _gate = gate;
        _recorder = recorder;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Runs the plan named <paramref name="plan"/> as <paramref name="options"/> say.</summary>
    /// <returns>What each group, action and item did; <see cref="RecoveryPlanReport.Succeeded"/> is false when anything failed.</returns>
    /// <exception cref="ReplicationException">
    /// <see cref="ReplicationErrorCode.NotFound"/> when there is no such plan, or it names an item the host does not have.
    /// Nothing has run then.
    /// </exception>
    /// <exception cref="ArgumentException">
    /// The plan is invalid, names an action <paramref name="options"/> does not supply, or the options are out of range
    /// (every problem named). Nothing has run then.
    /// </exception>
    public async Task<RecoveryPlanReport> RunAsync(string plan, RecoveryPlanRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(plan);
        ArgumentNullException.ThrowIfNull(options);
        RecoveryPlan found = await _store.GetPlanAsync(plan, cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"There is no recovery plan '{plan}'.");
        var problems = new List<string>(found.Validate());
        if (options.MaxParallelItems is < 1 or > RecoveryPlan.MaxItems)
        {
            problems.Add($"MaxParallelItems must be 1 to {RecoveryPlan.MaxItems} (is {options.MaxParallelItems}).");
        }

        var items = new Dictionary<string, HostedItem>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (string name in found.Groups.SelectMany(g => g.Items))
        {
            if (await _store.GetItemAsync(name, cancellationToken).ConfigureAwait(false) is { } item)
            {
                items[name] = item;
            }
            else
            {
                missing.Add(name);
            }
        }

        foreach ((RecoveryPlanGroup group, int index) in found.Groups.Select((g, i) => (g, i + 1)))
        {
            foreach (string action in group.PreActions.Concat(group.PostActions).Where(a => !options.Actions.ContainsKey(a)))
            {
                problems.Add($"Recovery plan '{plan}' group {index} names action '{action}', which this run does not supply.");
            }
        }

        if (missing.Count > 0)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"Recovery plan '{plan}' names items this host does not have: {string.Join(", ", missing.Select(m => "'" + m + "'"))}.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        JobRecord job = await _recorder.AddJobAsync(JobKind.RecoveryPlan, plan, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        await _recorder.AddStepAsync(job, $"{options.Operation} of {items.Count} items in {found.Groups.Count} groups").ConfigureAwait(false);

        // What a restart needs to resume the run as itself (the delegates come from ReplicationHostOptions.ResumeRecoveryPlan then).
        string persisted = JsonSerializer.Serialize(RecoveryPlanRunParameters.From(options), HostingJsonContext.Default.RecoveryPlanRunParameters);
        await _recorder.AddStepAsync(job, OptionsStep + persisted).ConfigureAwait(false);
        return await RunGroupsAsync(job, found, items, options, [], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Resumes a run a stopped process of this host left in progress, as the same job: what its steps and its items' jobs
    /// record as done is not done again (a group that ended, an action that ended, an item whose job ended or whose
    /// operation the site shows complete); the rest runs. Returns null when the run cannot be resumed (its job then failed,
    /// saying why).
    /// </summary>
    internal async Task<RecoveryPlanReport?> ResumeAsync(JobRecord interrupted, CancellationToken cancellationToken)
    {
        JobRecord job = await _store.GetJobAsync(interrupted.Id, cancellationToken).ConfigureAwait(false) ?? interrupted;
        string? problem = null;
        RecoveryPlanRunOptions? options = null;
        RecoveryPlan? found = await _store.GetPlanAsync(job.Item, cancellationToken).ConfigureAwait(false);
        var items = new Dictionary<string, HostedItem>(StringComparer.Ordinal);
        if (found is null)
        {
            problem = $"the recovery plan '{job.Item}' is gone";
        }
        else if (job.Steps.FirstOrDefault(s => s.Name.StartsWith(OptionsStep, StringComparison.Ordinal)) is not { } step)
        {
            problem = "the run recorded no options to resume with";
        }
        else
        {
            RecoveryPlanRunOptions recorded = JsonSerializer.Deserialize(step.Name[OptionsStep.Length..], HostingJsonContext.Default.RecoveryPlanRunParameters)!.ToOptions();
            options = _options.ResumeRecoveryPlan?.Invoke(recorded) ?? recorded;
            foreach (string name in found.Groups.SelectMany(g => g.Items))
            {
                if (await _store.GetItemAsync(name, cancellationToken).ConfigureAwait(false) is { } item)
                {
                    items[name] = item;
                }
                else
                {
                    problem = $"the plan's item '{name}' is gone";
                }
            }

            foreach (string action in found.Groups.SelectMany(g => g.PreActions.Concat(g.PostActions)).Where(a => !options.Actions.ContainsKey(a)))
            {
                problem = $"the plan names action '{action}', which ReplicationHostOptions.ResumeRecoveryPlan does not supply";
            }
        }

        await _recorder.ResumedAsync(job, _logger).ConfigureAwait(false);
        if (problem is not null || found is null || options is null)
        {
            job.State = JobState.Failed;
            job.Ended = _time.GetUtcNow();
            job.Error = new JobError { IsRecoverable = false, Code = ReplicationErrorCode.InvalidState, Message = $"Recovery plan run {job.Id} cannot be resumed: {problem}." };
            await _recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
            return null;
        }

        await _store.UpdateJobAsync(job, cancellationToken).ConfigureAwait(false);
        return await RunGroupsAsync(job, found, items, options, [.. job.Steps.Select(s => s.Name)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The run's groups in order; <paramref name="done"/> holds the steps an interrupted attempt recorded (empty for a new run).</summary>
    private async Task<RecoveryPlanReport> RunGroupsAsync(
        JobRecord job, RecoveryPlan found, Dictionary<string, HostedItem> items, RecoveryPlanRunOptions options, HashSet<string> done, CancellationToken cancellationToken)
    {
        string plan = found.Name;
        var groups = new List<RecoveryPlanGroupReport>();
        bool stopped = false;
        for (int g = 0; g < found.Groups.Count; g++)
        {
            RecoveryPlanGroup group = found.Groups[g];
            if (stopped)
            {
                groups.Add(new RecoveryPlanGroupReport(
                    g + 1, RecoveryPlanStepState.NotRun,
                    [.. group.PreActions.Select(a => new RecoveryPlanActionReport(a, true, RecoveryPlanStepState.NotRun, null)), .. group.PostActions.Select(a => new RecoveryPlanActionReport(a, false, RecoveryPlanStepState.NotRun, null))],
                    [.. group.Items.Select(i => new RecoveryPlanItemReport(i, RecoveryPlanStepState.NotRun, null, null))]));
                continue;
            }

            RecoveryPlanGroupReport report = await RunGroupAsync(job, plan, g + 1, group, items, options, done, cancellationToken).ConfigureAwait(false);
            groups.Add(report);
            string groupStep = GroupStep(g + 1, report.State == RecoveryPlanStepState.Succeeded);
            if (!done.Contains(groupStep))
            {
                await _recorder.AddStepAsync(job, groupStep).ConfigureAwait(false);
            }

            stopped = report.State == RecoveryPlanStepState.Failed && !options.ContinueOnFailure;
        }

        var result = new RecoveryPlanReport { Plan = plan, Operation = options.Operation, JobId = job.Id, Groups = groups };
        job.Ended = _time.GetUtcNow();
        job.Progress = 1;
        job.State = result.Succeeded ? JobState.Succeeded : JobState.Failed;
        job.Result = result.Succeeded ? result.Describe() : null;
        JobError[] itemErrors = [.. groups.SelectMany(g => g.Items).Select(i => i.Error).OfType<JobError>()];
        job.Error = result.Succeeded ? null : new JobError
        {
            IsRecoverable = itemErrors.All(e => e.IsRecoverable),
            Code = itemErrors.FirstOrDefault()?.Code ?? ReplicationErrorCode.Unknown,
            Message = result.Describe(),
        };
        await _recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
        Log.PlanFinished(_logger, plan, options.Operation.ToString(), result.Describe());
        return result;
    }

    private async Task<RecoveryPlanGroupReport> RunGroupAsync(
        JobRecord job, string plan, int index, RecoveryPlanGroup group, Dictionary<string, HostedItem> items, RecoveryPlanRunOptions options,
        HashSet<string> done, CancellationToken cancellationToken)
    {
        var actions = new List<RecoveryPlanActionReport>();
        bool failed = false;
        foreach (string action in group.PreActions)
        {
            RecoveryPlanActionReport report = failed
                ? new RecoveryPlanActionReport(action, true, RecoveryPlanStepState.NotRun, null)
                : await RunActionAsync(job, plan, index, action, isPre: true, group, options, done, cancellationToken).ConfigureAwait(false);
            failed |= report.State == RecoveryPlanStepState.Failed;
            actions.Add(report);
        }

        RecoveryPlanItemReport[] itemReports;
        if (failed)
        {
            // A pre action failed: the group's items are not touched.
            itemReports = [.. group.Items.Select(i => new RecoveryPlanItemReport(i, RecoveryPlanStepState.NotRun, null, null))];
        }
        else
        {
            using var parallel = new SemaphoreSlim(options.MaxParallelItems, options.MaxParallelItems);
            itemReports = await Task.WhenAll(group.Items.Select(async name =>
            {
                await parallel.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    return await RunItemAsync(job, items[name], options, resuming: done.Count > 0, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    parallel.Release();
                }
            })).ConfigureAwait(false);
            failed = itemReports.Any(r => r.State == RecoveryPlanStepState.Failed);
        }

        foreach (string action in group.PostActions)
        {
            RecoveryPlanActionReport report = failed && !options.ContinueOnFailure
                ? new RecoveryPlanActionReport(action, false, RecoveryPlanStepState.NotRun, null)
                : await RunActionAsync(job, plan, index, action, isPre: false, group, options, done, cancellationToken).ConfigureAwait(false);
            failed |= report.State == RecoveryPlanStepState.Failed;
            actions.Add(report);
        }

        return new RecoveryPlanGroupReport(index, failed ? RecoveryPlanStepState.Failed : RecoveryPlanStepState.Succeeded, actions, itemReports);
    }

    /// <summary>Runs an action once: its end is a step of the plan's job, so a resumed run does not run it again.</summary>
    private async Task<RecoveryPlanActionReport> RunActionAsync(
        JobRecord job, string plan, int index, string action, bool isPre, RecoveryPlanGroup group, RecoveryPlanRunOptions options, HashSet<string> done,
        CancellationToken cancellationToken)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture, $"group {index} {(isPre ? "pre" : "post")} action '{action}' ");
        if (done.Contains(prefix + "succeeded"))
        {
            return new RecoveryPlanActionReport(action, isPre, RecoveryPlanStepState.Succeeded, null);
        }

        if (done.FirstOrDefault(s => s.StartsWith(prefix + "failed: ", StringComparison.Ordinal)) is { } failure)
        {
            return new RecoveryPlanActionReport(action, isPre, RecoveryPlanStepState.Failed, failure[(prefix.Length + "failed: ".Length)..]);
        }

        RecoveryPlanActionReport report;
        try
        {
            await options.Actions[action](new RecoveryPlanActionContext(plan, options.Operation, index, action, isPre, [.. group.Items]), cancellationToken).ConfigureAwait(false);
            report = new RecoveryPlanActionReport(action, isPre, RecoveryPlanStepState.Succeeded, null);
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            report = new RecoveryPlanActionReport(action, isPre, RecoveryPlanStepState.Failed, ex.Message.ReplaceLineEndings(" "));
        }

        await _recorder.AddStepAsync(job, prefix + (report.Error is { } error ? "failed: " + error : "succeeded")).ConfigureAwait(false);
        return report;
    }

    private async Task<RecoveryPlanItemReport> RunItemAsync(JobRecord plan, HostedItem planned, RecoveryPlanRunOptions options, bool resuming, CancellationToken cancellationToken)
    {
        using IDisposable entered = await _gate.EnterAsync(planned.Name, cancellationToken).ConfigureAwait(false);
        HostedItem item = await _store.GetItemAsync(planned.Name, cancellationToken).ConfigureAwait(false) ?? planned;
        JobKind kind = KindOf(options.Operation);
        string link = $"in recovery plan run {plan.Id}";
        JobRecord? job = resuming ? await FindItemJobAsync(item.Name, kind, plan, link, cancellationToken).ConfigureAwait(false) : null;
        if (job is { State: JobState.Succeeded })
        {
            return new RecoveryPlanItemReport(item.Name, RecoveryPlanStepState.Succeeded, job.Id, null);
        }

        if (job is { State: JobState.Failed })
        {
            return new RecoveryPlanItemReport(item.Name, RecoveryPlanStepState.Failed, job.Id, job.Error);
        }

        ProtectionState? completed = null;
        if (job is null)
        {
            job = await _recorder.AddJobAsync(kind, item.Name, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            await _recorder.AddStepAsync(job, link).ConfigureAwait(false);
        }
        else
        {
            // Interrupted by a stop of the process: the site tells whether the operation completed before it.
            await _recorder.ResumedAsync(job, _logger).ConfigureAwait(false);
            await _store.UpdateJobAsync(job, cancellationToken).ConfigureAwait(false);
            completed = await _operations.CompletedStateAsync(item, options.Operation, cancellationToken).ConfigureAwait(false);
        }

        Log.JobStarted(_logger, job.Id, job.Kind.ToString(), item.Name, job.Attempt);
        ProtectionState state;
        using (_recorder.Begin(job))
        {
            try
            {
                state = completed ?? options.Operation switch
                {
                    RecoveryPlanOperation.TestFailover => await _operations.FailoverAsync(item, FailoverKind.Test, options, cancellationToken).ConfigureAwait(false),
                    RecoveryPlanOperation.PlannedFailover => await _operations.FailoverAsync(item, FailoverKind.Planned, options, cancellationToken).ConfigureAwait(false),
                    RecoveryPlanOperation.UnplannedFailover => await _operations.FailoverAsync(item, FailoverKind.Unplanned, options, cancellationToken).ConfigureAwait(false),
                    RecoveryPlanOperation.TestFailoverCleanup => await _operations.CleanupTestFailoverAsync(item, options, cancellationToken).ConfigureAwait(false),
                    RecoveryPlanOperation.Commit => await _operations.CommitAsync(item, options, cancellationToken).ConfigureAwait(false),
                    RecoveryPlanOperation.Failback => await _operations.FailbackAsync(item, options, cancellationToken).ConfigureAwait(false),
                    _ => await _operations.ReverseReplicationAsync(item, options, cancellationToken).ConfigureAwait(false),
                };
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                ReplicationException error = ReplicationErrors.Classify(ex, $"{options.Operation} of '{item.Name}'");
                job.State = JobState.Failed;
                job.Ended = _time.GetUtcNow();
                job.Error = JobError.From(error);
                await _recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
                return new RecoveryPlanItemReport(item.Name, RecoveryPlanStepState.Failed, job.Id, job.Error);
            }

            if (completed is null)
            {
                await _recorder.AddStepAsync(job, CompletedStep).ConfigureAwait(false);
            }
        }

        // The item's record first (its cycles stop once it is failed over, and go on once reverse replication protects it), then its job.
        item.ProtectionState = state;
        item.Updated = _time.GetUtcNow();
        await _store.SaveItemAsync(item, CancellationToken.None).ConfigureAwait(false);
        job.State = JobState.Succeeded;
        job.Ended = item.Updated;
        job.Progress = 1;
        job.Result = "state " + state;
        await _recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
        Log.JobSucceeded(_logger, job.Id, job.Kind.ToString(), item.Name, job.Result);
        return new RecoveryPlanItemReport(item.Name, RecoveryPlanStepState.Succeeded, job.Id, null);
    }

    /// <summary>The item's job of this plan run (its first step links it), or null when the run had not reached the item.</summary>
    private async Task<JobRecord?> FindItemJobAsync(string item, JobKind kind, JobRecord plan, string link, CancellationToken cancellationToken)
    {
        foreach (JobRecord candidate in await _store.ListJobsAsync(item, 100, cancellationToken).ConfigureAwait(false))
        {
            if (candidate.Kind == kind && candidate.Started >= plan.Started
                && await _store.GetJobAsync(candidate.Id, cancellationToken).ConfigureAwait(false) is { } full && full.Steps.Any(s => s.Name == link))
            {
                return full;
            }
        }

        return null;
    }

    private static string GroupStep(int index, bool succeeded) =>
        string.Create(CultureInfo.InvariantCulture, $"group {index} {(succeeded ? "succeeded" : "failed")}");

    private static JobKind KindOf(RecoveryPlanOperation operation) => operation switch
    {
        RecoveryPlanOperation.TestFailover => JobKind.TestFailover,
        RecoveryPlanOperation.TestFailoverCleanup => JobKind.TestFailoverCleanup,
        RecoveryPlanOperation.PlannedFailover => JobKind.PlannedFailover,
        RecoveryPlanOperation.UnplannedFailover => JobKind.UnplannedFailover,
        RecoveryPlanOperation.Commit => JobKind.Commit,
        RecoveryPlanOperation.Failback => JobKind.Failback,
        _ => JobKind.ReverseReplication,
    };

    /// <summary>The step of a plan's job that records the run's options (JSON after it), for a restart to resume the run with.</summary>
    internal const string OptionsStep = "options ";

    /// <summary>The step of an item's job recorded once the operation completed at the site (before the host records the item's new state).</summary>
    internal const string CompletedStep = "completed at the site";
}
