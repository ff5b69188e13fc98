using System.Globalization;
using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quartz;
using Quartz.Impl.Calendar;
using Replication.Hosting.Items;

namespace Replication.Hosting.Scheduling;

/// <summary>
/// An item's schedule in Quartz, kept in Quartz's own tables beside the store: one durable job per item (so its runs
/// never overlap, on one host or across a cluster), a <c>cycle</c> trigger that repeats at the copy frequency — or, while
/// the item is retrying, fires once at the next attempt — and a <c>resync</c> trigger bound to the item's resync window
/// (a Quartz <see cref="CronCalendar"/> that excludes business hours).
/// </summary>
/// <remarks>
/// With a clustered store, an item pinned to this host (<see cref="HostedItem.PinnedHost"/>) is scheduled on a second,
/// non-clustered scheduler of this host only (<see cref="PinnedSchedulerName"/>, in memory; its triggers are made again
/// from the store at each start): the clustered schedulers never hold its triggers, so no other host runs it, also while
/// this host is down.
/// </remarks>
internal sealed class ItemScheduler(
    ISchedulerFactory factory, TimeProvider time, IOptions<ReplicationHostOptions> options,
    [FromKeyedServices(ItemScheduler.PinnedSchedulerName)] ISchedulerFactory? pinnedFactory = null)
{
    /// <summary>The name of the non-clustered scheduler that runs the items pinned to this host.</summary>
    public const string PinnedSchedulerName = "replication-pinned";

    private readonly ConcurrentDictionary<string, bool> _pinned = new(StringComparer.Ordinal);

    public const string Group = "replication";
    public const string ModeKey = "mode";

    public static JobKey JobKeyOf(string item) => new(item, Group);

    public static TriggerKey CycleKey(string item) => new(item + "/cycle", Group);

    public static TriggerKey ResyncKey(string item) => new(item + "/resync", Group);

    /// <summary>
    /// The trigger of the attempt after <paramref name="failures"/> failures. Two keys taken in turn: the next attempt is
    /// scheduled while the trigger of the failed one is still firing, and Quartz completes a fired trigger by its key.
    /// </summary>
    public static TriggerKey RetryKey(string item, int failures) => new(item + (failures % 2 == 0 ? "/retry-even" : "/retry-odd"), Group);

    public static string CalendarName(string item) => "resync-window/" + item;

    /// <summary>The scheduler of the item: the pinned one for an item pinned to this host on a clustered store, else the shared one.</summary>
    public Task<IScheduler> SchedulerAsync(string item, CancellationToken cancellationToken) =>
        (pinnedFactory is not null && _pinned.ContainsKey(item) ? pinnedFactory : factory).GetScheduler(cancellationToken).AsTask();

    /// <summary>
    /// Notes whether the item runs on this host's pinned scheduler; an item pinned on a clustered store is taken off the
    /// shared scheduler (it may have been there before it was pinned), so that no other host fires it.
    /// </summary>
    private async Task<IScheduler> SchedulerAsync(HostedItem item, CancellationToken cancellationToken)
    {
        if (item.PinnedHost is not null && options.Value.IsClustered)
        {
            if (item.PinnedHost == options.Value.HostId && _pinned.TryAdd(item.Name, true))
            {
                await RemoveSharedAsync(item.Name, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            _pinned.TryRemove(item.Name, out _);
        }

        return await SchedulerAsync(item.Name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when the item runs on this host's pinned scheduler.</summary>
    public bool IsPinnedHere(string item) => pinnedFactory is not null && _pinned.ContainsKey(item);

    /// <summary>
    /// On a clustered store, makes the pinned scheduler look for items newly pinned to this host at each
    /// <paramref name="interval"/> (<see cref="PinnedItemsJob"/>); nothing otherwise.
    /// </summary>
    public async Task WatchPinnedAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        if (pinnedFactory is null)
        {
            return;
        }

        IScheduler pinned = await pinnedFactory.GetScheduler(cancellationToken).ConfigureAwait(false);
        IJobDetail job = JobBuilder.Create<PinnedItemsJob>().WithIdentity(PinnedItemsJob.Key).StoreDurably().Build();
        ITrigger trigger = TriggerBuilder.Create(time)
            .WithIdentity(PinnedItemsJob.Key.Name, Group)
            .ForJob(job)
            .StartAt(time.GetUtcNow() + interval)
            .WithSimpleSchedule(s => s.WithInterval(interval).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount))
            .Build();
        await pinned.AddJob(job, AddJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
        await pinned.ScheduleJob(trigger, ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes a pinned item's job and triggers off the shared (clustered) scheduler, where another host would fire them.</summary>
    public async Task RemoveSharedAsync(string item, CancellationToken cancellationToken)
    {
        if (pinnedFactory is not null)
        {
            IScheduler shared = await factory.GetScheduler(cancellationToken).ConfigureAwait(false);
            await shared.DeleteJob(JobKeyOf(item), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes Quartz hold what the store says of the item (the store is the record; a process that stopped between the
    /// two leaves Quartz behind): its job; its next attempt when it is retrying, else its cycle trigger — due now for an
    /// item never run, else one interval on; its triggers paused when it is critical.
    /// </summary>
    public async Task EnsureAsync(HostedItem item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        if (!await scheduler.Exists(JobKeyOf(item.Name), cancellationToken).ConfigureAwait(false))
        {
            IJobDetail job = JobBuilder.Create<ReplicationItemJob>()
                .WithIdentity(JobKeyOf(item.Name))
                .StoreDurably()
                .RequestRecovery()
                .Build();
            await scheduler.AddJob(job, AddJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
        }

        DateTimeOffset now = time.GetUtcNow();
        if (item.NextAttempt is { } next)
        {
            if (!await scheduler.Exists(RetryKey(item.Name, item.RetryAttempt), cancellationToken).ConfigureAwait(false))
            {
                await ScheduleRetryAsync(item, item.RetryAttempt, next, cancellationToken).ConfigureAwait(false);
            }
        }
        else if (!await scheduler.Exists(CycleKey(item.Name), cancellationToken).ConfigureAwait(false))
        {
            await ScheduleCyclesAsync(item, item.ProtectionState is null ? now : now + item.Policy.CopyFrequency, cancellationToken).ConfigureAwait(false);
        }

        if (item.State == HostedItemState.Critical)
        {
            await scheduler.PauseJob(JobKeyOf(item.Name), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Cycles at the copy frequency from <paramref name="start"/>, in place of any retry; a misfire after downtime runs
    /// one catch-up cycle at once.
    /// </summary>
    public async Task ScheduleCyclesAsync(HostedItem item, DateTimeOffset start, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.UnscheduleJobs([RetryKey(item.Name, 0), RetryKey(item.Name, 1)], cancellationToken).ConfigureAwait(false);
        await scheduler.ScheduleJob(Repeating(item, start), ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The attempt after <paramref name="failures"/> failures, at <paramref name="at"/>, in place of the cycles until one succeeds.</summary>
    public async Task ScheduleRetryAsync(HostedItem item, int failures, DateTimeOffset at, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.UnscheduleJob(CycleKey(item.Name), cancellationToken).ConfigureAwait(false);
        await scheduler.ScheduleJob(Once(RetryKey(item.Name, failures), item.Name, at, TriggerMode.Retry), ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A resync that fires when the item's window is open (at once when it is open now).</summary>
    public async Task ScheduleResyncInWindowAsync(HostedItem item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        if (await scheduler.Exists(ResyncKey(item.Name), cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var builder = TriggerBuilder.Create(time)
            .WithIdentity(ResyncKey(item.Name))
            .ForJob(JobKeyOf(item.Name))
            .UsingJobData(ModeKey, nameof(TriggerMode.ResyncWindow))
            .StartAt(NextWholeMinute(time.GetUtcNow()))
            .WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromMinutes(1)).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount));
        if (WindowCalendar(item.Policy.ResyncWindow) is { } calendar)
        {
            await scheduler.AddCalendar(CalendarName(item.Name), calendar, AddCalendarOptions.ReplacingAndUpdatingTriggers, cancellationToken).ConfigureAwait(false);
            builder = builder.WithCalendarName(CalendarName(item.Name));
        }

        await scheduler.ScheduleJob(builder.Build(), new ScheduleJobOptions(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>When the item's resync may next start, by its trigger (null when none waits).</summary>
    public async Task<DateTimeOffset?> NextResyncAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        return (await scheduler.GetTrigger(ResyncKey(item), cancellationToken).ConfigureAwait(false))?.NextFireTimeUtc;
    }

    /// <summary>When the item's cycle trigger fires next.</summary>
    public async Task<DateTimeOffset?> NextCycleAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        return (await scheduler.GetTrigger(CycleKey(item), cancellationToken).ConfigureAwait(false))?.NextFireTimeUtc;
    }

    public async Task CancelResyncAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.UnscheduleJob(ResyncKey(item), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the item's job now (still never beside another run of it).</summary>
    public async Task RunNowAsync(string item, TriggerMode mode, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.TriggerJob(JobKeyOf(item), new JobDataMap { [ModeKey] = mode.ToString() }, cancellationToken).ConfigureAwait(false);
    }

    public async Task PauseAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.PauseJob(JobKeyOf(item), cancellationToken).ConfigureAwait(false);
    }

    public async Task ResumeAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.ResumeJob(JobKeyOf(item), cancellationToken).ConfigureAwait(false);
    }

    public async Task RemoveAsync(string item, CancellationToken cancellationToken)
    {
        IScheduler scheduler = await SchedulerAsync(item, cancellationToken).ConfigureAwait(false);
        await scheduler.DeleteJob(JobKeyOf(item), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The window as a Quartz calendar: a cron calendar excluding every second of the business hours on business days, in
    /// the window's time zone; null when nothing is excluded.
    /// </summary>
    internal static CronCalendar? WindowCalendar(ResyncWindow window)
    {
        if (window.Always || window.BusinessDays.Count == 0)
        {
            return null;
        }

        string days = string.Join(',', window.BusinessDays.Distinct().Order().Select(d => d.ToString()[..3].ToUpperInvariant()));
        string expression = string.Create(CultureInfo.InvariantCulture, $"* * {window.BusinessHoursStart}-{window.BusinessHoursEnd - 1} ? * {days}");
        return new CronCalendar(null, expression, window.ResolveTimeZone());
    }

    private ITrigger Repeating(HostedItem item, DateTimeOffset start) =>
        TriggerBuilder.Create(time)
            .WithIdentity(CycleKey(item.Name))
            .ForJob(JobKeyOf(item.Name))
            .UsingJobData(ModeKey, nameof(TriggerMode.Cycle))
            .StartAt(start)
            .WithSimpleSchedule(s => s.WithInterval(item.Policy.CopyFrequency).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();

    /// <summary>
    /// The next whole minute (Quartz moves a start in the past to now): the window's trigger, firing every minute from
    /// it, then fires on the minute the window opens.
    /// </summary>
    private static DateTimeOffset NextWholeMinute(DateTimeOffset time) =>
        time.Ticks % TimeSpan.TicksPerMinute == 0 ? time : new DateTimeOffset(time.Ticks - (time.Ticks % TimeSpan.TicksPerMinute) + TimeSpan.TicksPerMinute, time.Offset);

    private ITrigger Once(TriggerKey key, string item, DateTimeOffset at, TriggerMode mode) =>
        TriggerBuilder.Create(time)
            .WithIdentity(key)
            .ForJob(JobKeyOf(item))
            .UsingJobData(ModeKey, mode.ToString())
            .StartAt(at)
            .WithSimpleSchedule(s => s.WithRepeatCount(0).WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
}
