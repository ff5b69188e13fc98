using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Targets;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>
    /// One delta cycle: rotate the disks together, ship and apply each disk's logs since the last one applied, make a
    /// recovery point per disk, record the cycle, prune, release the shipped logs.
    /// </summary>
    private async Task<ReplicationRunResult> CycleAsync(ProtectedMachine machine, ItemRecordHandle handle, CancellationToken cancellationToken)
    {
        SiteItemRecord record = handle.Record;
        ReplicationPolicy policy = record.ToPolicy();
        var result = new ReplicationRunResult(machine.Name) { Action = ReplicationAction.DeltaCycle };

        // A cycle that stopped while shipping left its apply checkpoint: it is finished first, on the same logs (no
        // rotation), so what its checkpoint holds is not sent again. Otherwise the cut: every disk's logs end at the
        // same instant, quiesced when this cycle's point is to be application-consistent.
        DateTimeOffset started = _time.GetUtcNow();
        bool unfinished = machine.Disks.Any(d => File.Exists(CheckpointPath(d, "apply")));
        bool consistent = !unfinished && machine.Quiesce is not null && policy.ApplicationConsistentFrequency is { } frequency
            && (record.LastApplicationConsistentAt is not { } last || started - last >= frequency);
        if (!unfinished)
        {
            IAsyncDisposable? thaw = consistent ? await machine.Quiesce!(cancellationToken).ConfigureAwait(false) : null;
            try
            {
                await TrackedDisk.RotateTogetherAsync(machine.Disks, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (thaw is not null)
                {
                    await thaw.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        await StepAsync("rotated").ConfigureAwait(false);
        DateTimeOffset cut = _time.GetUtcNow();
        long cycle = record.Cycle + 1;
        string[] diskPoints = new string[machine.Disks.Count];
        var applied = new SealedLog?[machine.Disks.Count];
        for (int i = 0; i < machine.Disks.Count; i++)
        {
            (IReadOnlyList<SealedLog> done, IReadOnlyList<SealedLog> pending) = SplitApplied(machine, record, i);
            IReplicaTarget target = machine.Site.GetDiskTarget(machine.Name, i);
            await using IReplicaWriter writer = await AcquireWriterAsync(machine, target, cancellationToken).ConfigureAwait(false);
            await RemoveOrphanPointsAsync(target, writer, record, i, cancellationToken).ConfigureAwait(false);
            if (pending.Count > 0)
            {
                await ShipAsync(machine, i, pending, writer, policy, result, cancellationToken).ConfigureAwait(false);
                applied[i] = pending[^1];
                await StepAsync("shipped", i).ConfigureAwait(false);
            }
            else if (done.Count > 0)
            {
                applied[i] = done[^1];
            }

            RecoveryPoint point = await writer.CreateRecoveryPointAsync(
                string.Create(CultureInfo.InvariantCulture, $"{machine.Name} cycle {cycle}"), cancellationToken).ConfigureAwait(false);
            diskPoints[i] = point.Id;
            await StepAsync("point", i).ConfigureAwait(false);
        }

        // The cycle's commit: from here the point exists for failover and the logs are no longer needed.
        for (int i = 0; i < applied.Length; i++)
        {
            if (applied[i] is { } log)
            {
                record.Disks[i].AppliedThrough = log.UniqueId;
            }
        }

        var added = new PointRecord
        {
            Id = cycle.ToString(CultureInfo.InvariantCulture),
            Cycle = cycle,
            CreatedAt = cut,
            Kind = consistent ? RecoveryPointKind.ApplicationConsistent : RecoveryPointKind.CrashConsistent,
            DiskPoints = [.. diskPoints],
        };
        record.Points.Add(added);
        record.Cycle = cycle;
        record.LastCycleAt = cut;
        if (consistent)
        {
            record.LastApplicationConsistentAt = cut;
        }

        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        foreach (TrackedDisk disk in machine.Disks)
        {
            DeleteCheckpoint(disk, "apply");
        }

        await StepAsync("recorded").ConfigureAwait(false);
        result.RecoveryPoint = added.ToInfo();
        result.PointsPruned = await PruneAsync(machine, handle, policy, cancellationToken).ConfigureAwait(false);
        await StepAsync("pruned").ConfigureAwait(false);

        for (int i = 0; i < applied.Length; i++)
        {
            if (applied[i] is { } log)
            {
                await machine.Disks[i].ReleaseAsync(log.SequenceNumber, cancellationToken).ConfigureAwait(false);
            }
        }

        await StepAsync("released").ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// A disk's sealed logs split at the last one the replica has taken: those already applied (a run that crashed after
    /// recording its cycle left them), and those to apply, in chain order.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.ChainBroken"/> when the logs do not continue from the last one applied.</exception>
    private static (IReadOnlyList<SealedLog> Done, IReadOnlyList<SealedLog> Pending) SplitApplied(ProtectedMachine machine, SiteItemRecord record, int index)
    {
        DiskRecord disk = record.Disks[index];
        IReadOnlyList<SealedLog> logs = machine.Disks[index].PendingLogs;
        if (disk.AppliedThrough is not { } through)
        {
            throw new ReplicationException(
                ReplicationErrorCode.InvalidReplicaState, false, $"'{machine.Name}' disk {index}: its copy at the site is not complete; replicate resumes it.");
        }

        int at = logs.ToList().FindLastIndex(l => l.UniqueId == through);
        IReadOnlyList<SealedLog> pending = at >= 0 ? logs.Skip(at + 1).ToList() : logs;
        Guid previous = through;
        foreach (SealedLog log in pending)
        {
            if (log.PreviousUniqueId != previous)
            {
                throw new ReplicationException(
                    ReplicationErrorCode.ChainBroken,
                    false,
                    $"'{machine.Name}' disk {index} ({machine.Disks[index].FilePath}): log {log.SequenceNumber} follows {log.PreviousUniqueId:D}, but the replica has taken the chain through {previous:D}; the disk needs a resync.");
            }

            previous = log.UniqueId;
        }

        return (at >= 0 ? logs.Take(at + 1).ToList() : [], pending);
    }

    /// <summary>
    /// Ships a disk's sealed logs to its replica through the log applier: each is checked against its integrity sidecar,
    /// they are coalesced (the newest data of each byte) and the changed ranges written, resumable from a checkpoint
    /// beside the logs. The checkpoint is gone once the apply completes; a run stopped between that and recording the
    /// cycle applies the same logs again with the next ones (the same bytes, sent twice, never lost).
    /// </summary>
    private async Task ShipAsync(
        ProtectedMachine machine, int index, IReadOnlyList<SealedLog> logs, IReplicaWriter writer,
        ReplicationPolicy policy, ReplicationRunResult result, CancellationToken cancellationToken)
    {
        var options = new LogApplyOptions
        {
            Transfer = TransferFor(policy),
            ExpectedPreviousUniqueId = logs[0].PreviousUniqueId,
            CheckpointPath = CheckpointPath(machine.Disks[index], "apply"),
        };
        IProgress<TransferProgress>? progress = _options.Progress is { } report ? new Relay<TransferProgress>(machine.Name, index, "apply", report, t => (t.BytesDone, t.BytesTotal)) : null;
        LogApplyResult shipped = await _applier.ApplyAsync([.. logs.Select(l => l.Path)], writer, options, progress, cancellationToken).ConfigureAwait(false);
        result.BytesSent += shipped.BytesSent;
        result.BytesZeroed += shipped.BytesZeroed;
        result.CoalescedBytes += shipped.BytesWritten;
        result.LoggedBytes += shipped.LoggedBytes;
    }

    /// <summary>
    /// Deletes a disk's recovery points that the record does not name: made by a cycle that stopped before recording
    /// itself, or left by a prune that stopped part way. The record's points are never touched.
    /// </summary>
    private static async Task RemoveOrphanPointsAsync(IReplicaTarget target, IReplicaWriter writer, SiteItemRecord record, int index, CancellationToken cancellationToken)
    {
        var named = new HashSet<string>(record.Points.Select(p => p.DiskPoints[index]), StringComparer.Ordinal);
        if (record.TestFailover is { } test)
        {
            named.Add(test.PointId);
        }

        var orphans = new List<string>();
        await foreach (RecoveryPoint point in target.ListRecoveryPointsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!named.Contains(point.Id))
            {
                orphans.Add(point.Id);
            }
        }

        foreach (string orphan in orphans)
        {
            await writer.DeleteRecoveryPointAsync(orphan, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Drops the oldest points beyond the policy's count or age (the newest is always kept): from the record first, so a
    /// crash part way never leaves the record naming a point that is gone; then from each disk's target.
    /// </summary>
    private async Task<int> PruneAsync(ProtectedMachine machine, ItemRecordHandle handle, ReplicationPolicy policy, CancellationToken cancellationToken)
    {
        SiteItemRecord record = handle.Record;
        DateTimeOffset now = _time.GetUtcNow();
        var pruned = new List<PointRecord>();
        while (record.Points.Count > 1
               && (record.Points.Count > policy.RetentionCount || record.Points[0].CreatedAt < now - policy.RetentionPeriod)
               && record.TestFailover?.PointId != record.Points[0].Id)
        {
            pruned.Add(record.Points[0]);
            record.Points.RemoveAt(0);
        }

        if (pruned.Count == 0)
        {
            return 0;
        }

        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < machine.Disks.Count; i++)
        {
            IReplicaTarget target = machine.Site.GetDiskTarget(machine.Name, i);
            await using IReplicaWriter writer = await AcquireWriterAsync(machine, target, cancellationToken).ConfigureAwait(false);
            foreach (PointRecord point in pruned)
            {
                await writer.DeleteRecoveryPointAsync(point.DiskPoints[i], cancellationToken).ConfigureAwait(false);
            }
        }

        return pruned.Count;
    }

    /// <summary>Where a step's transfer checkpoint lives: beside the disk's logs, which it belongs with (the folder is made here).</summary>
    private static string CheckpointPath(TrackedDisk disk, string step)
    {
        string folder = Path.Combine(disk.LogDirectory, "replication");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, step + ".checkpoint");
    }

    private static void DeleteCheckpoint(TrackedDisk disk, string step)
    {
        string path = CheckpointPath(disk, step);
        if (File.Exists(path))
        {
            IO.DurableFile.Delete(path);
        }
    }

    /// <summary>The transfer options of an item: the engine's defaults with the item's concurrency and bandwidth limits.</summary>
    private TransferOptions TransferFor(ReplicationPolicy policy) => _options.Transfer with
    {
        MaxConcurrency = policy.MaxConcurrency,
        MaxBytesPerSecond = policy.MaxBytesPerSecond,
    };

    /// <summary>Reports a copy's or an apply's progress as the engine's, naming the item, disk and step.</summary>
    private sealed class Relay<T>(string item, int disk, string step, IProgress<ReplicationProgress> target, Func<T, (long Done, long Total)> work) : IProgress<T>
        where T : class
    {
        public void Report(T value)
        {
            (long done, long total) = work(value);
            (long sent, long zeroed, double rate, TimeSpan? left, long checkpoint) = value switch
            {
                TransferProgress t => (t.BytesSent, t.BytesZeroed, t.BytesPerSecond, t.EstimatedRemaining, t.CheckpointedUpTo),
                SyncProgress s => (s.BytesSent, s.BytesZeroed, s.BytesPerSecond, s.EstimatedRemaining, s.CheckpointedUpTo),
                _ => (0L, 0L, 0d, (TimeSpan?)null, 0L),
            };
            target.Report(new ReplicationProgress
            {
                Item = item,
                Disk = disk,
                Step = step,
                BytesDone = done,
                BytesTotal = total,
                BytesSent = sent,
                BytesZeroed = zeroed,
                BytesPerSecond = rate,
                EstimatedRemaining = left,
                CheckpointedUpTo = checkpoint,
            });
        }
    }
}
