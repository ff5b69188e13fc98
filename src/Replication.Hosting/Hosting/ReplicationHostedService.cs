using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Plans;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Storage;

namespace Replication.Hosting;

/// <summary>
/// Starts the host: creates the store's tables, makes sure every item this host may run has its job and triggers in
/// Quartz (added while the scheduler is still in standby, so nothing fires half set up), and runs at once the item jobs
/// that a previous process of this host left in progress, so each resumes at its checkpoint; the recovery plan runs it
/// left in progress resume too (<see cref="RecoveryPlanRunner"/>), each as its own job. Quartz's own hosted service,
/// registered after this one, then starts the scheduler.
/// </summary>
internal sealed class ReplicationHostedService(
    IReplicationStore store,
    ItemScheduler scheduler,
    ReplicationMetrics metrics,
    RecoveryPlanRunner plans,
    IOptions<ReplicationHostOptions> options,
    ILogger<ReplicationHostedService> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _resumed = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ReplicationHostOptions host = options.Value;
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<HostedItem> items = await store.ListItemsAsync(cancellationToken).ConfigureAwait(false);
        int mine = 0;
        foreach (HostedItem item in items)
        {
            if (item.PinnedHost is { } pinned && pinned != host.HostId)
            {
                continue;
            }

            mine++;
            metrics.Track(item);
            if (item.LastRecoveryPointAt is { } at)
            {
                metrics.RecoveryPoint(item.Name, at);
            }

            await scheduler.EnsureAsync(item, cancellationToken).ConfigureAwait(false);
            if (await store.FindOpenJobAsync(item.Name, cancellationToken).ConfigureAwait(false) is { State: JobState.InProgress } open
                && (open.Host == host.HostId || !host.IsClustered) && !open.Kind.IsRecoveryOperation())
            {
                // Interrupted by this host's previous process (a clustered peer's are recovered by Quartz when it is seen dead);
                // a recovery plan's operation is completed by the plan's resumed run below, not by the item's job.
                await scheduler.RunNowAsync(item.Name, TriggerMode.Resume, cancellationToken).ConfigureAwait(false);
            }
        }

        await scheduler.WatchPinnedAsync(host.ClusterCheckinInterval, cancellationToken).ConfigureAwait(false);

        // Recovery plan runs this host's previous process left in progress resume as themselves, beside the scheduler.
        JobRecord[] runs = [.. (await store.ListJobsAsync(limit: 10_000, cancellationToken: cancellationToken).ConfigureAwait(false))
            .Where(j => j.Kind == JobKind.RecoveryPlan && j.State == JobState.InProgress && (j.Host == host.HostId || !host.IsClustered))];
        if (runs.Length > 0)
        {
            _resumed = Task.WhenAll(runs.Select(run => Task.Run(() => plans.ResumeAsync(run, _stopping.Token), CancellationToken.None)));
        }

        Log.HostStarted(logger, host.HostId, mine, (store as SqlReplicationStore)?.Location ?? store.GetType().Name, host.IsClustered);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped part way: the runs stay in progress, and the next start resumes them again.
        }
    }

    public void Dispose() => _stopping.Dispose();
}
