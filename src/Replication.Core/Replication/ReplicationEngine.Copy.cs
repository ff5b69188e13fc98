using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>
    /// Initial replication or resync: copies the disks that need it while the machine keeps writing (the copy is fuzzy),
    /// then runs a cycle, whose logs (every write since each copy began) bring the replicas to one consistent cut and make
    /// the recovery point; then the trackers' resync reasons are cleared.
    /// </summary>
    /// <remarks>
    /// Where a disk's chain continues once its copy is done is recorded at the site before the first byte is copied, and
    /// the logs after it are kept at the primary until a cycle has applied them: a run killed during the copy resumes it
    /// (from the transfer checkpoint) with nothing lost, and never starts the chain again behind what was copied.
    /// </remarks>
    private async Task<ReplicationRunResult> CopyAndCatchUpAsync(
        ProtectedMachine machine, ItemRecordHandle handle, bool initial, bool forced, CancellationToken cancellationToken)
    {
        SiteItemRecord record = handle.Record;
        var result = new ReplicationRunResult(machine.Name) { Action = initial ? ReplicationAction.InitialReplication : ReplicationAction.Resync };
        var copy = new List<int>();
        for (int i = 0; i < record.Disks.Count; i++)
        {
            DiskRecord disk = record.Disks[i];
            bool needed = disk.Resync is not null || (initial ? !disk.CopyComplete
                : forced || record.State is ProtectionState.ResyncRequired || machine.Disks[i].Resync.IsRequired || disk.AppliedThrough is null);
            if (needed)
            {
                copy.Add(i);
            }
        }

        if (!initial && record.State != ProtectionState.Resynchronising)
        {
            record.State = ProtectionState.Resynchronising;
            await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        }

        // Where each disk's chain continues is recorded before any copy starts (so that no disk's logs are released
        // behind it); then the disks are copied one after another, or all at once by policy, each recorded as complete
        // (with the chain position its replica is at) as soon as it is, so a later run never copies it again.
        foreach (int i in copy)
        {
            await BeginCopyAsync(machine, handle, i, initial, cancellationToken).ConfigureAwait(false);
            await StepAsync("copy begun", i).ConfigureAwait(false);
        }

        ReplicationPolicy policy = record.ToPolicy();
        List<int> remaining = [.. copy.Where(i => !record.Disks[i].CopyComplete)];
        if (policy.ParallelDisks)
        {
            await Task.WhenAll(remaining.Select(i => CopyAndRecordAsync(machine, handle, i, policy, result, cancellationToken))).ConfigureAwait(false);
        }
        else
        {
            foreach (int i in remaining)
            {
                await CopyAndRecordAsync(machine, handle, i, policy, result, cancellationToken).ConfigureAwait(false);
            }
        }

        await StepAsync("copies recorded").ConfigureAwait(false);

        // The catch-up cycle: the logs written during the copies, then the first (or next) consistent point.
        ReplicationRunResult cycle = await CycleAsync(machine, handle, cancellationToken).ConfigureAwait(false);
        result.Add(cycle);
        result.RecoveryPoint = cycle.RecoveryPoint;

        foreach (int i in copy)
        {
            ResyncRecord resync = record.Disks[i].Resync!;
            var requirement = new ResyncRequirement(
                (ResyncReasons)resync.Reasons, resync.WholeDisk, [.. resync.Ranges.Select(r => new DiskExtent(r[0], r[1]))], resync.Generation);
            await machine.Disks[i].CompleteResyncAsync(new ResyncPlan(requirement, resync.ContinueFrom), cancellationToken).ConfigureAwait(false);
            record.Disks[i].Resync = null;
        }

        record.State = machine.Disks.Any(d => d.Resync.IsRequired) ? ProtectionState.ResyncRequired : ProtectionState.Protected;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Copies one disk, then records it complete and where its chain continues.</summary>
    private async Task CopyAndRecordAsync(
        ProtectedMachine machine, ItemRecordHandle handle, int index, ReplicationPolicy policy, ReplicationRunResult result, CancellationToken cancellationToken)
    {
        ReplicationRunResult copied = await CopyDiskAsync(machine, handle.Record, index, policy, cancellationToken).ConfigureAwait(false);
        DiskRecord disk = handle.Record.Disks[index];
        lock (result)
        {
            result.Add(copied);
        }

        lock (handle.Record)
        {
            disk.CopyComplete = true;
            disk.AppliedThrough = disk.Resync!.ContinueFrom;
        }

        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);

        await StepAsync("copied", index).ConfigureAwait(false);
    }

    /// <summary>Starts a disk's copy at the primary (a new log, the ones before it released) and records where its chain continues.</summary>
    private async Task BeginCopyAsync(ProtectedMachine machine, ItemRecordHandle handle, int index, bool initial, CancellationToken cancellationToken)
    {
        DiskRecord disk = handle.Record.Disks[index];
        if (disk.Resync is not null)
        {
            return;
        }

        // Any checkpoint left by an earlier copy belongs to a chain that is about to be superseded.
        DeleteCheckpoint(machine.Disks[index], "copy");

        ResyncPlan plan = await machine.Disks[index].BeginResyncAsync(cancellationToken).ConfigureAwait(false);
        disk.Resync = new ResyncRecord
        {
            ContinueFrom = plan.ContinueFromUniqueId,
            Generation = plan.Requirement.Generation,
            Reasons = (int)plan.Requirement.Reasons,
            WholeDisk = plan.Requirement.WholeDisk,
            Ranges = [.. plan.Requirement.Ranges.Select(r => new[] { r.Offset, r.Length })],
            StartedAt = _time.GetUtcNow(),
            Initial = initial,
        };
        disk.CopyComplete = false;
        disk.AppliedThrough = null;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Copies one disk to its replica: the initial copy sends every allocated, non-zero range (a replica created empty
    /// needs no zeros); a resync hashes the disk and the replica (or trusts the replica's stored manifest once its stamp
    /// and a sample agree) and sends only the blocks that differ. Both resume from a checkpoint beside the disk's logs.
    /// </summary>
    private async Task<ReplicationRunResult> CopyDiskAsync(ProtectedMachine machine, SiteItemRecord record, int index, ReplicationPolicy policy, CancellationToken cancellationToken)
    {
        TrackedDisk disk = machine.Disks[index];
        ResyncRecord resync = record.Disks[index].Resync!;
        IReplicaTarget target = machine.Site.GetDiskTarget(machine.Name, index);
        await using IReplicaWriter writer = await AcquireWriterAsync(machine, target, cancellationToken).ConfigureAwait(false);
        var options = new SyncOptions
        {
            Transfer = TransferFor(policy),
            CheckpointPath = CheckpointPath(disk, "copy"),
            WorkDirectory = _options.WorkDirectory,
        };
        IProgress<SyncProgress>? progress = _options.Progress is { } report ? new Relay<SyncProgress>(machine.Name, index, "copy", report, p => (p.BytesCopied, p.BytesToCopy)) : null;
        if (resync.Initial)
        {
            // A replica this protection created reads as zeros, so zero ranges need not be sent; a resumed copy takes
            // that from its checkpoint, written before its first write. The writer keeps the source's manifest for the
            // resyncs to come.
            SyncResult copied = await _synchronizer.SeedAsync(
                disk, writer, writer, options with { DestinationKnownZero = record.Disks[index].ReplicaCreatedEmpty }, progress, cancellationToken).ConfigureAwait(false);
            return new ReplicationRunResult(machine.Name) { BytesSent = copied.DataBytesSent, BytesZeroed = copied.ZeroBytes, BytesHashed = copied.BytesHashed };
        }

        // The whole disk, not only the regions the tracker marked: a cycle stopped part way may have applied some of a
        // log's extents, which no marked region covers. The replica's stored manifest spares hashing it when its stamp
        // and a sample agree.
        SyncResult seed = await _synchronizer.ResyncAsync(disk, writer, writer, options, progress, cancellationToken).ConfigureAwait(false);
        return new ReplicationRunResult(machine.Name)
        {
            BytesSent = seed.DataBytesSent, BytesZeroed = seed.ZeroBytes, BytesHashed = seed.BytesHashed + seed.DestinationBytesRead, BytesCompared = seed.BytesCompared,
        };
    }
}
