using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Storage;

namespace Replication.Hosting;

/// <summary>
/// Starts the host: creates the store's tables, makes sure every item this host may run has its job and triggers in
/// Quartz (added while the scheduler is still in standby, so nothing fires half set up), and runs at once the item jobs
/// that a previous process of this host left in progress, so each resumes at its checkpoint. Quartz's own hosted
/// service, registered after this one, then starts the scheduler.
/// </summary>
internal sealed class ReplicationHostedService(
    IReplicationStore store,
    ItemScheduler scheduler,
    ReplicationMetrics metrics,
    IOptions<ReplicationHostOptions> options,
    ILogger<ReplicationHostedService> logger) : IHostedService
{
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
            if (item.LastRecoveryPointAt is { } at)
            {
                metrics.RecoveryPoint(item.Name, at);
            }

            await scheduler.EnsureAsync(item, cancellationToken).ConfigureAwait(false);
            if (await store.FindOpenJobAsync(item.Name, cancellationToken).ConfigureAwait(false) is { State: JobState.InProgress } open
                && (open.Host == host.HostId || !host.IsClustered))
            {
                // Interrupted by this host's previous process (a clustered peer's are recovered by Quartz when it is seen dead).
                await scheduler.RunNowAsync(item.Name, TriggerMode.Resume, cancellationToken).ConfigureAwait(false);
            }
        }

        Log.HostStarted(logger, host.HostId, mine, (store as SqlReplicationStore)?.Location ?? store.GetType().Name, host.IsClustered);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
