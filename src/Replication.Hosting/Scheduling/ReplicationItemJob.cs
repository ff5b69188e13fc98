using Quartz;

namespace Replication.Hosting.Scheduling;

/// <summary>
/// The Quartz job of one item (its key names the item). Never runs twice at once for one item — on one host or, with a
/// clustered store, across hosts — and asks for recovery, so the job of a host that died is run again by another.
/// </summary>
[DisallowConcurrentExecution]
internal sealed class ReplicationItemJob(ItemJobRunner runner) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        string item = context.JobDetail.Key.Name;
        TriggerMode mode = context.Recovering
            ? TriggerMode.Resume
            : Enum.TryParse(context.MergedJobDataMap.GetString(ItemScheduler.ModeKey), out TriggerMode parsed) ? parsed : TriggerMode.Cycle;
        await runner.RunAsync(item, mode, cancellationToken).ConfigureAwait(false);
    }
}
