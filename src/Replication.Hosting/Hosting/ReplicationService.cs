using Microsoft.Extensions.Options;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Operations;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Storage;

namespace Replication.Hosting;

/// <summary>
/// What an operator or the embedding product asks of a running host: add and remove items, ask for a resync, resume a
/// critical item, and read items, jobs and recovery points. Every change is durable in the store before it returns;
/// reads of items and jobs come from the store, so they answer while the site is unreachable.
/// </summary>
public sealed class ReplicationService
{
    private readonly IReplicationStore _store;
    private readonly ItemScheduler _scheduler;
    private readonly IItemOperations _operations;
    private readonly IReplicationSite _site;
    private readonly TimeProvider _time;
    private readonly ReplicationHostOptions _options;
    private readonly ReplicationMetrics _metrics;

    internal ReplicationService(
        IReplicationStore store, ItemScheduler scheduler, IItemOperations operations, IReplicationSite site, TimeProvider time, IOptions<ReplicationHostOptions> options,
        ReplicationMetrics metrics)
    {
        _metrics = metrics;
        _store = store;
        _scheduler = scheduler;
        _operations = operations;
        _site = site;
        _time = time;
        _options = options.Value;
    }

    /// <summary>The store the host keeps its items and jobs in.</summary>
    public IReplicationStore Store => _store;

    /// <summary>
    /// Adds an item (or replaces its disks and policy) and schedules it. An item the site does not hold yet is protected
    /// by its first job (enable protection, initial replication, first recovery point); one already protected (by
    /// <c>repl protect</c>, say) is given <paramref name="protectionState"/> and goes straight to delta cycles.
    /// </summary>
    /// <param name="name">The item's name at the site.</param>
    /// <param name="disks">Its disks' paths at the primary, in order.</param>
    /// <param name="policy">Its policy; the host's default when null.</param>
    /// <param name="pinnedHost">
    /// The only host that may run it (its disks are reachable from it alone), or null. On a clustered store that host runs
    /// it on a scheduler no other host shares, from its next start when it is another host; while it is down the item waits.
    /// </param>
    /// <param name="protectionState">Its state at the site when it is already protected, or null.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    /// <exception cref="ArgumentException">The name, disks or policy are invalid (each problem named).</exception>
    public async Task<HostedItem> AddItemAsync(
        string name, IReadOnlyList<string> disks, ItemPolicy? policy = null, string? pinnedHost = null, ProtectionState? protectionState = null,
        CancellationToken cancellationToken = default)
    {
        ItemNames.Check(name);
        ArgumentNullException.ThrowIfNull(disks);
        if (disks.Count == 0 || disks.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException($"Item '{name}' needs one or more disk paths.", nameof(disks));
        }

        ItemPolicy chosen = (policy ?? _options.DefaultPolicy).Clone();
        if (chosen.Validate($"policy of '{name}'") is [_, ..] problems)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(policy));
        }

        HostedItem item = await _store.GetItemAsync(name, cancellationToken).ConfigureAwait(false) is { } existing
            ? new HostedItem
            {
                Name = name, Disks = [.. disks.Select(Path.GetFullPath)], Policy = chosen, PinnedHost = pinnedHost, State = existing.State,
                ProtectionState = protectionState ?? existing.ProtectionState, CriticalReason = existing.CriticalReason, RetryFirstFailure = existing.RetryFirstFailure,
                RetryAttempt = existing.RetryAttempt, NextAttempt = existing.NextAttempt, ResyncRequested = existing.ResyncRequested,
                LastRecoveryPointId = existing.LastRecoveryPointId, LastRecoveryPointAt = existing.LastRecoveryPointAt,
            }
            : new HostedItem { Name = name, Disks = [.. disks.Select(Path.GetFullPath)], Policy = chosen, PinnedHost = pinnedHost, ProtectionState = protectionState };
        item.Updated = _time.GetUtcNow();
        await _store.SaveItemAsync(item, cancellationToken).ConfigureAwait(false);
        if (pinnedHost is null || pinnedHost == _options.HostId)
        {
            // A new item: Ensure makes its cycle trigger, due now. An item protected before: its cycles restart at the
            // (possibly new) frequency from now. Never a second trigger due now for an item whose first run may already be
            // going: that run reschedules its cycles one interval on when it ends, and a trigger due now made after it
            // would run a cycle at once, adding a recovery point nobody asked for.
            _metrics.Track(item);
            await _scheduler.EnsureAsync(item, cancellationToken).ConfigureAwait(false);
            if (item.ProtectionState is not null)
            {
                await _scheduler.ScheduleCyclesAsync(item, item.Updated + chosen.CopyFrequency, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            // Pinned to another host: it schedules the item on its own scheduler when it starts; the shared one must not hold it.
            _metrics.Forget(name);
            await _scheduler.RemoveSharedAsync(name, cancellationToken).ConfigureAwait(false);
        }

        return item;
    }

    /// <summary>Stops scheduling an item and forgets it and its jobs (its protection at the site is left as it is).</summary>
    public async Task RemoveItemAsync(string name, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(name);
        await _scheduler.RemoveAsync(name, cancellationToken).ConfigureAwait(false);
        await _store.DeleteItemAsync(name, cancellationToken).ConfigureAwait(false);
        _metrics.Forget(name);
    }

    /// <summary>
    /// Runs the item's job now instead of at its next copy frequency: a delta cycle for a protected item (its first
    /// protection when the site does not hold it yet; a required resync still waits for the item's window). Returns once
    /// the run is scheduled, not when it ends: <see cref="ReplicationHostOptions.JobObserver"/> is told of the job's end,
    /// and <see cref="ListJobsAsync"/> shows it. A run of the item already in progress is not doubled: this one starts after it.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when the host has no such item.</exception>
    public async Task ReplicateNowAsync(string name, CancellationToken cancellationToken = default)
    {
        _ = await RequireAsync(name, cancellationToken).ConfigureAwait(false);
        await _scheduler.RunNowAsync(name, TriggerMode.Cycle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Asks for a resync of the item now: it does not wait for the resync window.</summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when the host has no such item.</exception>
    public async Task RequestResyncAsync(string name, CancellationToken cancellationToken = default)
    {
        HostedItem item = await RequireAsync(name, cancellationToken).ConfigureAwait(false);
        item.ResyncRequested = true;
        item.Updated = _time.GetUtcNow();
        await _store.SaveItemAsync(item, cancellationToken).ConfigureAwait(false);
        await _scheduler.RunNowAsync(name, TriggerMode.ResyncNow, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Resumes an item left critical once an operator has repaired the cause: the engine's record goes back to resync
    /// required (when the engine had marked it critical), the retry schedule starts afresh, and its job runs at once.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when the host has no such item.</exception>
    public async Task ResumeItemAsync(string name, CancellationToken cancellationToken = default)
    {
        HostedItem item = await RequireAsync(name, cancellationToken).ConfigureAwait(false);
        if (item.ProtectionState == ProtectionState.Critical || await IsEngineCriticalAsync(name, cancellationToken).ConfigureAwait(false))
        {
            await _operations.ResumeAsync(item, cancellationToken).ConfigureAwait(false);
            item.ProtectionState = ProtectionState.ResyncRequired;
        }

        item.MarkHealthy();
        item.Updated = _time.GetUtcNow();
        await _store.SaveItemAsync(item, cancellationToken).ConfigureAwait(false);
        await _scheduler.EnsureAsync(item, cancellationToken).ConfigureAwait(false);
        await _scheduler.ResumeAsync(name, cancellationToken).ConfigureAwait(false);
        await _scheduler.ScheduleCyclesAsync(item, item.Updated, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every item the store holds, as the host last saw it.</summary>
    public Task<IReadOnlyList<HostedItem>> ListItemsAsync(CancellationToken cancellationToken = default) => _store.ListItemsAsync(cancellationToken);

    /// <summary>Jobs, newest first (without steps).</summary>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? item = null, int limit = 1000, CancellationToken cancellationToken = default) =>
        _store.ListJobsAsync(item, limit, cancellationToken);

    /// <summary>A job with its steps, or null.</summary>
    public Task<JobRecord?> GetJobAsync(string id, CancellationToken cancellationToken = default) => _store.GetJobAsync(id, cancellationToken);

    /// <summary>An item's retained recovery points, oldest first, read from the site.</summary>
    /// <exception cref="ReplicationException">The site cannot be reached, or has no such item.</exception>
    public Task<IReadOnlyList<RecoveryPointInfo>> ListRecoveryPointsAsync(string name, CancellationToken cancellationToken = default) =>
        new ReplicationEngine(null, _time).ListRecoveryPointsAsync(_site, name, cancellationToken);

    private async Task<bool> IsEngineCriticalAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            ItemStatus status = await new ReplicationEngine(null, _time).GetStatusAsync(_site, name, cancellationToken: cancellationToken).ConfigureAwait(false);
            return status.State == ProtectionState.Critical;
        }
        catch (ReplicationException ex) when (ex.Code == ReplicationErrorCode.NotFound)
        {
            return false;
        }
    }

    private async Task<HostedItem> RequireAsync(string name, CancellationToken cancellationToken)
    {
        ItemNames.Check(name);
        return await _store.GetItemAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"This host has no item '{name}'.");
    }
}
