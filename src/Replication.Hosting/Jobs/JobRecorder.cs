using System.Globalization;
using Microsoft.Extensions.Logging;
using Replication.Core.Replication;
using Replication.Hosting.Observability;
using Replication.Hosting.Storage;

namespace Replication.Hosting.Jobs;

/// <summary>
/// Turns the engine's durable-step reports into the steps of the job that is running them. The engine reports every
/// step through one callback; the job a run belongs to flows with the run's async context, so items running at once
/// never see each other's steps.
/// </summary>
internal sealed class JobRecorder(IReplicationStore store, JobEvents events, TimeProvider time, Microsoft.Extensions.Options.IOptions<ReplicationHostOptions> options)
    : IProgress<ReplicationProgress>
{
    private static readonly AsyncLocal<Scope?> Current = new();

    /// <summary>Progress of the runs in progress, by item (for the resync-progress gauge).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, double> ProgressByItem { get; } = new(StringComparer.Ordinal);

    /// <summary>Makes <paramref name="job"/> the job of the steps reported in this async context until disposed.</summary>
    public IDisposable Begin(JobRecord job)
    {
        Scope? previous = Current.Value;
        Current.Value = new Scope(job);
        return new Restore(previous);
    }

    /// <summary>The engine's <see cref="ReplicationEngineOptions.StepCompleted"/>.</summary>
    public async ValueTask OnStepAsync(string step)
    {
        if (Current.Value is { } scope)
        {
            var recorded = new JobStep(step, time.GetUtcNow());
            await store.AddStepAsync(scope.Job.Id, recorded, CancellationToken.None).ConfigureAwait(false);
            await ObserveAsync(scope.Job, recorded).ConfigureAwait(false);
        }
    }

    /// <summary>Tells <see cref="ReplicationHostOptions.JobObserver"/> of a step, or of the job's new state (no step).</summary>
    public ValueTask ObserveAsync(JobRecord job, JobStep? step) => options.Value.JobObserver?.Invoke(job, step) ?? ValueTask.CompletedTask;

    /// <summary>Adds a new job of this host, started at <paramref name="started"/>, to the store.</summary>
    public async Task<JobRecord> AddJobAsync(JobKind kind, string item, DateTimeOffset started, CancellationToken cancellationToken)
    {
        string id = string.Create(CultureInfo.InvariantCulture, $"{started.UtcDateTime:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..12]}");
        var job = new JobRecord { Id = id, Kind = kind, Item = item, Host = options.Value.HostId, Started = started };
        await store.AddJobAsync(job, cancellationToken).ConfigureAwait(false);
        events.Saved();
        return job;
    }

    /// <summary>Saves the job's new state and tells <see cref="ReplicationHostOptions.JobObserver"/> of it.</summary>
    public async Task SaveAsync(JobRecord job, CancellationToken cancellationToken)
    {
        await store.UpdateJobAsync(job, cancellationToken).ConfigureAwait(false);
        events.Saved();
        await ObserveAsync(job, null).ConfigureAwait(false);
    }

    /// <summary>Takes over a job another process (or this host's previous one) left in progress: logged, a step saying so, this host its host.</summary>
    public async Task ResumedAsync(JobRecord job, ILogger logger)
    {
        Log.JobResumed(logger, job.Id, job.Item, job.Host ?? "?");
        await AddStepAsync(job, $"resumed on {options.Value.HostId} after an interruption on {job.Host}").ConfigureAwait(false);
        job.Host = options.Value.HostId;
    }

    /// <summary>Adds a step of the host's own (<c>resumed after restart</c>).</summary>
    public async Task AddStepAsync(JobRecord job, string step)
    {
        var recorded = new JobStep(step, time.GetUtcNow());
        await store.AddStepAsync(job.Id, recorded, CancellationToken.None).ConfigureAwait(false);
        await ObserveAsync(job, recorded).ConfigureAwait(false);
    }

    public void Report(ReplicationProgress value)
    {
        if (value.BytesTotal > 0)
        {
            ProgressByItem[value.Item] = Math.Clamp((double)value.BytesDone / value.BytesTotal, 0, 1);
        }
    }

    private sealed record Scope(JobRecord Job);

    private sealed class Restore(Scope? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
