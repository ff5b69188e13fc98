using Replication.Core.Disks;
using Replication.Core.Replication.Sites;
using Replication.Core.Targets;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>
    /// Fails an item over. <see cref="FailoverKind.Test"/>: a writable, disposable copy of a recovery point (the newest
    /// unless one is named) goes to the output while replication goes on, until <see cref="CleanupTestFailoverAsync"/>.
    /// <see cref="FailoverKind.Planned"/>: the source is shut down (the request's callback), a final cycle ships what was
    /// left, and that point, equal to the source exactly, is recovered. <see cref="FailoverKind.Unplanned"/>: the newest
    /// (or a named) point is recovered, with nothing needed from the primary. The recovered machine's adapters are on the
    /// recovery networks the mapping gives.
    /// </summary>
    /// <returns>The recovered machine and the item's state (unchanged for a test failover, else failed over).</returns>
    /// <exception cref="ReplicationException">No such item or point, the state does not allow it, or a step failed (a rerun resumes it).</exception>
    public async Task<FailoverResult> FailoverAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Site);
        ArgumentNullException.ThrowIfNull(request.Output);
        ItemNames.Check(request.Name);
        if (request.Kind == FailoverKind.Planned && (request.Machine is null || request.Machine.Name != request.Name || !ReferenceEquals(request.Machine.Site, request.Site)))
        {
            throw new ArgumentException("A planned failover needs the item's primary (FailoverRequest.Machine, of the same site and name) for its final cycle.", nameof(request));
        }

        ItemRecordHandle handle = request.Kind == FailoverKind.Planned
            ? await OpenAsync(request.Machine!, cancellationToken).ConfigureAwait(false)
            : await RequireAsync(request.Site, request.Name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        ReplicationOperation operation = request.Kind switch
        {
            FailoverKind.Test => ReplicationOperation.TestFailover,
            FailoverKind.Planned => ReplicationOperation.PlannedFailover,
            _ => ReplicationOperation.UnplannedFailover,
        };
        MachineDescription machine = Mapped(record, request.NetworkMapping);
        if (request.Kind != FailoverKind.Test && record.State == ProtectionState.FailedOver && record.Failover is { } done
            && done.Kind == request.Kind.ToString() && (request.PointId is null || request.PointId == done.PointId))
        {
            // The same failover asked again (a rerun after its answer was lost): the recovered machine is made again
            // from the same point, which the output replaces, and nothing else changes.
            RecoveredMachine again = await RecoverAsync(request.Site, record, request.Kind, PointOf(record, done.PointId), machine, request.Output, cancellationToken).ConfigureAwait(false);
            return new FailoverResult(again, record.State, 0);
        }

        ProtectionStateMachine.EnsureAllowed(request.Name, record.State, record.TestFailover is not null, operation);
        if (request.Kind == FailoverKind.Test)
        {
            PointRecord testPoint = PointOf(record, request.PointId);
            RecoveredMachine test = await RecoverAsync(request.Site, record, FailoverKind.Test, testPoint, machine, request.Output, cancellationToken).ConfigureAwait(false);
            record.TestFailover = new TestFailoverRecord { PointId = testPoint.Id, StartedAt = _time.GetUtcNow(), Disks = [.. test.Disks] };
            await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
            return new FailoverResult(test, record.State, 0);
        }

        record.State = ProtectionState.FailoverInProgress;
        record.Failover ??= new FailoverRecord { Kind = request.Kind.ToString(), PointId = request.PointId ?? "", StartedAt = _time.GetUtcNow() };
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        await StepAsync("failover begun").ConfigureAwait(false);

        long finalBytes = 0;
        PointRecord point;
        if (request.Kind == FailoverKind.Planned)
        {
            // Nothing writes the source any more: the final cycle's point is the source, exactly.
            if (request.ShutdownSource is { } shutdown)
            {
                await shutdown(cancellationToken).ConfigureAwait(false);
            }

            await StepAsync("source shut down").ConfigureAwait(false);

            // After a crash of whatever tracked the disks, the regions it had marked may hold writes no log has: the final
            // step then compares them (a resync) rather than trusting the logs alone.
            ProtectedMachine primary = request.Machine!;
            ReplicationRunResult final = primary.Disks.Any(d => d.Resync.IsRequired)
                ? await CopyAndCatchUpAsync(primary, handle, initial: false, forced: false, cancellationToken).ConfigureAwait(false)
                : await CycleAsync(primary, handle, cancellationToken).ConfigureAwait(false);
            record.State = ProtectionState.FailoverInProgress;
            finalBytes = final.BytesSent;
            point = PointOf(record, final.RecoveryPoint!.Id);
        }
        else
        {
            point = PointOf(record, request.PointId);
        }

        RecoveredMachine recovered = await RecoverAsync(request.Site, record, request.Kind, point, machine, request.Output, cancellationToken).ConfigureAwait(false);
        record.Failover.PointId = point.Id;
        record.Failover.Disks = [.. recovered.Disks];
        record.State = ProtectionState.FailedOver;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        await StepAsync("failed over").ConfigureAwait(false);
        return new FailoverResult(recovered, record.State, finalBytes);
    }

    /// <summary>Ends a test failover: the recovered copy is removed through the output that made it; replication went on throughout.</summary>
    /// <exception cref="ReplicationException">No such item, or no test failover is running.</exception>
    public async Task CleanupTestFailoverAsync(IReplicationSite site, string name, IRecoveredMachineOutput output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        ProtectionStateMachine.EnsureAllowed(name, record.State, record.TestFailover is not null, ReplicationOperation.TestFailoverCleanup);
        TestFailoverRecord test = record.TestFailover!;
        PointRecord? point = record.Points.Find(p => p.Id == test.PointId);
        if (point is not null)
        {
            await output.RemoveAsync(new RecoveredMachine(name, FailoverKind.Test, point.ToInfo(), record.Machine.ToDescription(), test.Disks), cancellationToken).ConfigureAwait(false);
        }

        record.TestFailover = null;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Moves a failover that is not committed yet to another recovery point: the recovered machine is replaced by one made from it.</summary>
    /// <exception cref="ReplicationException">No such item or point, or the item is not failed over.</exception>
    public async Task<FailoverResult> ChangeRecoveryPointAsync(
        IReplicationSite site, string name, string pointId, IRecoveredMachineOutput output, IReadOnlyDictionary<string, string>? networkMapping = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentException.ThrowIfNullOrEmpty(pointId);
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        ProtectionStateMachine.EnsureAllowed(name, record.State, record.TestFailover is not null, ReplicationOperation.ChangeRecoveryPoint);
        FailoverRecord failover = record.Failover!;
        FailoverKind kind = Enum.Parse<FailoverKind>(failover.Kind);
        PointRecord point = PointOf(record, pointId);
        RecoveredMachine recovered = await RecoverAsync(site, record, kind, point, Mapped(record, networkMapping), output, cancellationToken).ConfigureAwait(false);
        failover.PointId = point.Id;
        failover.Disks = [.. recovered.Disks];
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        return new FailoverResult(recovered, record.State, 0);
    }

    /// <summary>
    /// Cancels a failover that is not committed: the recovered machine is removed and the item is protected again (after a
    /// planned failover the product restarts the source; the next run of replication finds it as it was left).
    /// </summary>
    /// <exception cref="ReplicationException">No such item, or no failover to cancel.</exception>
    public async Task CancelFailoverAsync(IReplicationSite site, string name, IRecoveredMachineOutput output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        ProtectionStateMachine.EnsureAllowed(name, record.State, record.TestFailover is not null, ReplicationOperation.CancelFailover);
        if (record.Failover is { } failover && record.Points.Find(p => p.Id == failover.PointId) is { } point && failover.Disks.Count > 0)
        {
            await output.RemoveAsync(new RecoveredMachine(name, Enum.Parse<FailoverKind>(failover.Kind), point.ToInfo(), record.Machine.ToDescription(), failover.Disks), cancellationToken).ConfigureAwait(false);
        }

        record.Failover = null;
        record.State = ProtectionState.Protected;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits a failover: the failed-over point is fixed and every other recovery point is dropped; the recovered
    /// machine is now the machine, until it fails back. Committing a committed item finishes dropping the points.
    /// </summary>
    /// <exception cref="ReplicationException">No such item, or it is not failed over.</exception>
    public async Task CommitAsync(IReplicationSite site, string name, CancellationToken cancellationToken = default)
    {
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        if (record.State != ProtectionState.Committed)
        {
            ProtectionStateMachine.EnsureAllowed(name, record.State, record.TestFailover is not null, ReplicationOperation.Commit);

            // The record first, so that a crash part way never leaves it naming a point that is gone.
            string kept = record.Failover!.PointId;
            record.Points.RemoveAll(p => p.Id != kept);
            record.State = ProtectionState.Committed;
            await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
            await StepAsync("commit recorded").ConfigureAwait(false);
        }

        // Every point the record no longer names goes from the targets (repeating a commit finishes what a crash left).
        for (int i = 0; i < record.Disks.Count; i++)
        {
            IReplicaTarget target = site.GetDiskTarget(name, i);
            await using IReplicaWriter writer = await target.AcquireWriterAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await RemoveOrphanPointsAsync(target, writer, record, i, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The named point, or the newest when none is named.</summary>
    private static PointRecord PointOf(SiteItemRecord record, string? id) => id is null
        ? record.Points.Count > 0
            ? record.Points[^1]
            : throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"'{record.Name}' has no recovery point yet.")
        : record.Points.Find(p => p.Id == id)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"'{record.Name}' has no recovery point '{id}' (see its points).");

    /// <summary>The machine's description with each adapter on the recovery network its source network maps to.</summary>
    private static MachineDescription Mapped(SiteItemRecord record, IReadOnlyDictionary<string, string>? overrides)
    {
        var mapping = new Dictionary<string, string>(record.NetworkMapping, StringComparer.Ordinal);
        foreach ((string source, string target) in overrides ?? new Dictionary<string, string>())
        {
            mapping[source] = target;
        }

        MachineDescription machine = record.Machine.ToDescription();
        return new MachineDescription
        {
            Name = machine.Name,
            CpuCount = machine.CpuCount,
            MemoryBytes = machine.MemoryBytes,
            NetworkAdapters = [.. machine.NetworkAdapters.Select(a => new NetworkAdapter
            {
                Name = a.Name,
                Network = mapping.TryGetValue(a.Network, out string? mapped) ? mapped : a.Network,
                MacAddress = a.MacAddress,
            })],
        };
    }

    /// <summary>Opens the point's disks read-only and hands them, with the machine, to the output.</summary>
    private static async Task<RecoveredMachine> RecoverAsync(
        IReplicationSite site, SiteItemRecord record, FailoverKind kind, PointRecord point, MachineDescription machine, IRecoveredMachineOutput output, CancellationToken cancellationToken)
    {
        List<IVirtualDisk> disks = await OpenPointDisksAsync(site, record.Name, point, cancellationToken).ConfigureAwait(false);
        try
        {
            return await output.StartAsync(record.Name, kind, point.ToInfo(), machine, disks, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            disks.ForEach(d => d.Dispose());
        }
    }

    /// <summary>Opens each disk of a recovery point read-only; those opened are disposed when one fails.</summary>
    private static async Task<List<IVirtualDisk>> OpenPointDisksAsync(IReplicationSite site, string name, PointRecord point, CancellationToken cancellationToken)
    {
        var disks = new List<IVirtualDisk>();
        try
        {
            for (int i = 0; i < point.DiskPoints.Count; i++)
            {
                disks.Add(await site.GetDiskTarget(name, i).OpenRecoveryPointAsync(point.DiskPoints[i], cancellationToken).ConfigureAwait(false));
            }
        }
        catch
        {
            disks.ForEach(d => d.Dispose());
            throw;
        }

        return disks;
    }
}
