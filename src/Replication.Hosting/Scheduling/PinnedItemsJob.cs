using Microsoft.Extensions.Options;
using Quartz;
using Replication.Hosting.Items;
using Replication.Hosting.Storage;

namespace Replication.Hosting.Scheduling;

/// <summary>
/// On the pinned scheduler of a clustered host: picks up the items pinned to this host since it started (another host
/// may have added or re-pinned them) and schedules them there, at each check-in interval.
/// </summary>
[DisallowConcurrentExecution]
internal sealed class PinnedItemsJob(IReplicationStore store, ItemScheduler scheduler, IOptions<ReplicationHostOptions> options) : IJob
{
    public static readonly JobKey Key = new("pinned-items", ItemScheduler.Group);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        foreach (HostedItem item in await store.ListItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (item.PinnedHost == options.Value.HostId && !scheduler.IsPinnedHere(item.Name))
            {
                await scheduler.EnsureAsync(item, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
