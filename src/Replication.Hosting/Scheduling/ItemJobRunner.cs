using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Operations;
using Replication.Hosting.Storage;

namespace Replication.Hosting.Scheduling;

/// <summary>
/// One firing of an item's job: decides what the item needs (enable protection, a cycle, a resync now or in its window),
/// runs it as a job — the item's open job when there is one, so an interrupted or retried job completes once, as itself
/// — and acts on the outcome: a success resets the retry schedule, a recoverable failure schedules the next attempt by
/// <see cref="RetrySchedule"/>, a non-recoverable one leaves the item critical with its triggers paused.
/// </summary>
internal sealed class ItemJobRunner(
    IReplicationStore store,
    IItemOperations operations,
    ItemScheduler scheduler,
    ItemGate gate,
    JobRecorder recorder,
    ReplicationMetrics metrics,
    RetrySchedule retry,
    JobEvents events,
    TimeProvider time,
    IOptions<ReplicationHostOptions> options,
    ILogger<ItemJobRunner> logger)
{
    private static readonly ProtectionState[] NoReplication =
    [
        ProtectionState.FailoverInProgress, ProtectionState.FailedOver, ProtectionState.Committed, ProtectionState.FailbackInProgress, ProtectionState.FailedBack,
    ];

    public async Task RunAsync(string name, TriggerMode mode, CancellationToken cancellationToken)
    {
        // Never beside a recovery plan's operation on the item (Quartz keeps the item's scheduled runs apart already).
        using IDisposable entered = await gate.EnterAsync(name, cancellationToken).ConfigureAwait(false);
        await RunEnteredAsync(name, mode, cancellationToken).ConfigureAwait(false);
    }

    private async Task RunEnteredAsync(string name, TriggerMode mode, CancellationToken cancellationToken)
    {
        HostedItem? item = await store.GetItemAsync(name, cancellationToken).ConfigureAwait(false);
        if (item is null || item.State == HostedItemState.Critical || item.ProtectionState is { } s && NoReplication.Contains(s))
        {
            return;
        }

        JobRecord? job = await store.FindOpenJobAsync(name, cancellationToken).ConfigureAwait(false);
        if (job is not null && job.Kind.IsRecoveryOperation() && job.State == JobState.InProgress && job.Item == name)
        {
            // A recovery plan's operation on the item, running elsewhere or interrupted by a stop: the plan's (resumed) run
            // completes it; cycles go on after it.
            return;
        }

        if (job is not null && job.Kind == JobKind.RecoveryPlan)
        {
            job = null;
        }

        if (job is null && mode == TriggerMode.Resume && item.ProtectionState is { } state
            && state is not (ProtectionState.Enabling or ProtectionState.InitialReplication))
        {
            // A resume (the start's, or Quartz's recovery of a firing a stop or a crash cut short) with nothing left open: the
            // interrupted job was completed by the other one, and the next cycle comes at the copy frequency.
            return;
        }

        JobKind kind;
        if (job is not null)
        {
            kind = job.Kind;
        }
        else if (item.ProtectionState is null)
        {
            kind = JobKind.EnableProtection;
        }
        else if (item.ProtectionState is ProtectionState.Enabling or ProtectionState.InitialReplication)
        {
            kind = JobKind.InitialReplication;
        }
        else if (mode == TriggerMode.ResyncNow || item.ResyncRequested)
        {
            kind = JobKind.Resync;
        }
        else if (await operations.IsResyncRequiredAsync(item, cancellationToken).ConfigureAwait(false))
        {
            if (mode != TriggerMode.ResyncWindow && !item.Policy.ResyncWindow.IsOpen(time.GetUtcNow()))
            {
                await WaitForWindowAsync(item, cancellationToken).ConfigureAwait(false);
                return;
            }

            kind = JobKind.Resync;
        }
        else if (mode == TriggerMode.ResyncWindow)
        {
            // The window's trigger fired for a resync that is no longer needed (a cycle or an operator did it).
            await scheduler.CancelResyncAsync(name, cancellationToken).ConfigureAwait(false);
            return;
        }
        else
        {
            kind = JobKind.DeltaCycle;
        }

        DateTimeOffset now = time.GetUtcNow();
        if (job is null)
        {
            job = await recorder.AddJobAsync(kind, name, now, cancellationToken).ConfigureAwait(false);
            await recorder.ObserveAsync(job, null).ConfigureAwait(false);
        }
        else
        {
            if (job.State == JobState.WaitingForRetry)
            {
                job.Attempt++;
            }
            else
            {
                await recorder.ResumedAsync(job, logger).ConfigureAwait(false);
            }

            job.State = JobState.InProgress;
            job.Host = options.Value.HostId;
            job.NextAttempt = null;
            await recorder.SaveAsync(job, cancellationToken).ConfigureAwait(false);
        }

        Log.JobStarted(logger, job.Id, kind.ToString(), name, job.Attempt);
        ItemRunOutcome outcome;
        using (recorder.Begin(job))
        {
            try
            {
                if (kind == JobKind.Resync)
                {
                    metrics.ResyncProgress(name, 0);
                }

                outcome = kind switch
                {
                    JobKind.EnableProtection => await operations.ProtectAsync(item, cancellationToken).ConfigureAwait(false),
                    JobKind.Resync => await operations.ResyncAsync(item, cancellationToken).ConfigureAwait(false),
                    _ => await operations.ReplicateAsync(item, cancellationToken).ConfigureAwait(false),
                };
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The host is stopping: the job stays in progress and the next host to start resumes it at its checkpoint.
                await recorder.AddStepAsync(job, "stopped by the host shutting down").ConfigureAwait(false);
                throw;
            }
            catch (Exception ex)
            {
                ReplicationException error = ReplicationErrors.Classify(ex, $"{Describe(kind)} of '{name}'");
                await FailedAsync(item, job, error, now).ConfigureAwait(false);
                return;
            }
            finally
            {
                metrics.ResyncProgress(name, null);
                recorder.ProgressByItem.TryRemove(name, out _);
            }
        }

        await SucceededAsync(item, job, outcome, now, cancellationToken).ConfigureAwait(false);
    }

    private async Task SucceededAsync(HostedItem item, JobRecord job, ItemRunOutcome outcome, DateTimeOffset started, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        bool wasRetrying = item.RetryAttempt > 0 || item.NextAttempt is not null;
        job.Kind = job.Kind switch
        {
            JobKind.DeltaCycle or JobKind.InitialReplication when outcome.Action == ReplicationAction.Resync => JobKind.Resync,
            _ => job.Kind,
        };
        job.State = JobState.Succeeded;
        job.Ended = now;
        job.Progress = 1;
        job.Error = null;
        job.NextAttempt = null;
        job.Result = string.Create(CultureInfo.InvariantCulture, $"{(outcome.RecoveryPointId is { } p ? "recovery point " + p : "no recovery point")}, {outcome.BytesSent} bytes sent");
        item.ProtectionState = outcome.State;
        item.MarkHealthy();
        if (job.Kind == JobKind.Resync)
        {
            item.ResyncRequested = false;
        }

        if (outcome.RecoveryPointId is { } point)
        {
            item.LastRecoveryPointId = point;
            item.LastRecoveryPointAt = outcome.RecoveryPointAt;
            metrics.RecoveryPoint(item.Name, outcome.RecoveryPointAt ?? now);
        }

        item.Updated = now;

        // The item first, then its job: whoever sees the job ended finds the item's record already up to date.
        await store.SaveItemAsync(item, CancellationToken.None).ConfigureAwait(false);
        await recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
        metrics.Shipped(item.Name, outcome.BytesSent);
        metrics.JobDuration(job.Kind.ToString(), "succeeded", now - started);
        if (job.Kind == JobKind.Resync)
        {
            await scheduler.CancelResyncAsync(item.Name, cancellationToken).ConfigureAwait(false);
        }

        // A job that ends with a recovery point other than a scheduled cycle (a first protection, a resync, a retried run)
        // starts the cycles over one interval after it: a cycle trigger that came due while it ran (a misfire after
        // downtime, held back by the item's run) would otherwise make a second point right after this one.
        if (wasRetrying || job.Kind is JobKind.EnableProtection or JobKind.InitialReplication or JobKind.Resync)
        {
            await scheduler.ScheduleCyclesAsync(item, now + item.Policy.CopyFrequency, cancellationToken).ConfigureAwait(false);
        }

        Log.JobSucceeded(logger, job.Id, job.Kind.ToString(), item.Name, job.Result);
    }

    private async Task FailedAsync(HostedItem item, JobRecord job, ReplicationException error, DateTimeOffset started)
    {
        DateTimeOffset now = time.GetUtcNow();
        job.Error = JobError.From(error);
        metrics.JobDuration(job.Kind.ToString(), error.IsRecoverable ? "retry" : "failed", now - started);
        item.Updated = now;
        if (error.IsRecoverable)
        {
            item.RetryAttempt++;
            item.RetryFirstFailure ??= now;
            DateTimeOffset next = retry.NextAttempt(item.RetryFirstFailure.Value, item.RetryAttempt, now);
            item.NextAttempt = next;
            item.State = HostedItemState.Retrying;
            job.State = JobState.WaitingForRetry;
            job.NextAttempt = next;
            await store.SaveItemAsync(item, CancellationToken.None).ConfigureAwait(false);
            await recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
            await scheduler.ScheduleRetryAsync(item, item.RetryAttempt, next, CancellationToken.None).ConfigureAwait(false);
            metrics.Retry(item.Name);
            Log.JobWillRetry(logger, job.Id, item.Name, error.Code.ToString(), job.Attempt, next, error.Message);
            return;
        }

        job.State = JobState.Failed;
        job.Ended = now;
        job.NextAttempt = null;
        item.State = HostedItemState.Critical;
        item.CriticalReason = error.Message;
        item.NextAttempt = null;
        await store.SaveItemAsync(item, CancellationToken.None).ConfigureAwait(false);
        await recorder.SaveAsync(job, CancellationToken.None).ConfigureAwait(false);
        await scheduler.PauseAsync(item.Name, CancellationToken.None).ConfigureAwait(false);
        Log.ItemCritical(logger, job.Id, item.Name, error.Code.ToString(), error.Message);
    }

    private async Task WaitForWindowAsync(HostedItem item, CancellationToken cancellationToken)
    {
        if (item.State != HostedItemState.WaitingForResyncWindow)
        {
            item.State = HostedItemState.WaitingForResyncWindow;
            item.Updated = time.GetUtcNow();
            await store.SaveItemAsync(item, cancellationToken).ConfigureAwait(false);
            events.Saved();
            Log.ResyncWaitsForWindow(logger, item.Name);
        }

        await scheduler.ScheduleResyncInWindowAsync(item, cancellationToken).ConfigureAwait(false);
    }

    private static string Describe(JobKind kind) => kind switch
    {
        JobKind.EnableProtection => "enabling protection",
        JobKind.InitialReplication => "initial replication",
        JobKind.Resync => "resync",
        _ => "delta cycle",
    };
}
