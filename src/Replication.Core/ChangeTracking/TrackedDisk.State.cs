namespace Replication.Core.ChangeTracking;

public sealed partial class TrackedDisk
{
    /// <summary>
    /// Writes a new state durably: a copy of the current one with the pending triggers folded in, the disk's current
    /// DataWriteGuid, and <paramref name="mutate"/>'s changes (made under the gate; it returns what to do, under the gate,
    /// once the state is durable). Persists are serialised and reach the file in the order their copies were taken. On
    /// failure nothing in memory changes.
    /// </summary>
    /// <returns>False when nothing was written: <paramref name="onlyIfNeeded"/> was set and nothing was pending, or <paramref name="skipIf"/> said so.</returns>
    private bool PersistState(Func<ChangeTrackingState, Action?>? mutate, bool onlyIfNeeded = false, Func<bool>? skipIf = null)
    {
        lock (_stateLock)
        {
            ChangeTrackingState next;
            Action? onDurable;
            ResyncReasons folded;
            bool foldedWholeDisk;
            int foldedRanges;
            byte[] bytes;
            lock (_gate)
            {
                if ((onlyIfNeeded && !_persistNeeded) || skipIf?.Invoke() == true)
                {
                    return false;
                }

                next = _state.Clone();
                next.Armed = _armed;
                folded = _pendingReasons;
                foldedWholeDisk = _pendingWholeDisk;
                foldedRanges = _pendingRanges.Count;
                if (folded != ResyncReasons.None || foldedWholeDisk || foldedRanges > 0)
                {
                    next.Reasons |= folded;
                    if (foldedWholeDisk)
                    {
                        next.WholeDisk = true;
                        next.Ranges.Clear();
                    }

                    next.AddRanges(_pendingRanges);
                    next.Generation++;
                }

                next.LastDataWriteGuid = _disk.DataWriteGuid ?? Guid.Empty;
                onDurable = mutate?.Invoke(next);
                bytes = next.Encode();
            }

            IO.DurableFile.WriteAllBytes(_statePath, bytes);
            lock (_gate)
            {
                _state = next;
                _pendingReasons &= ~folded;
                _pendingWholeDisk &= !foldedWholeDisk;
                _pendingRanges.RemoveRange(0, foldedRanges);
                _persistNeeded = _pendingReasons != ResyncReasons.None || _pendingWholeDisk || _pendingRanges.Count > 0;
                onDurable?.Invoke();
            }

            return true;
        }
    }

    /// <summary>Records pending triggers durably; a write or flush fails rather than go on with one unrecorded.</summary>
    /// <param name="point">Where it is called from: what the failure's message says happened to the write or flush.</param>
    /// <exception cref="ReplicationException">The state could not be written (<see cref="ReplicationErrorCode.IoFailure"/>); the triggers stay pending.</exception>
    private void PersistPending(PersistPoint point)
    {
        try
        {
            PersistState(null, onlyIfNeeded: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ReplicationException(ReplicationErrorCode.IoFailure, true, PersistFailure(point, ex), ex);
        }
    }

    private string PersistFailure(PersistPoint point, Exception ex) => point switch
    {
        PersistPoint.BeforeWrite =>
            $"{_statePath}: a change tracking event could not be recorded ({ex.Message}); the write was not performed.",
        PersistPoint.AfterUnloggedWrite =>
            $"{_statePath}: the write reached the disk but its change could not be recorded ({ex.Message}): its log write failed, so that log is given up and the whole disk is marked for resync (kept in memory until the state can be written; after a crash the write-intent regions cover the write).",
        PersistPoint.AfterWrite =>
            $"{_statePath}: a change tracking event could not be recorded ({ex.Message}); the write itself was performed (and logged, if tracking is on), and the event stays pending until a later write, flush or close records it.",
        _ =>
            $"{_statePath}: a change tracking event could not be recorded ({ex.Message}); the flush failed, and the event stays pending until a later write, flush or close records it.",
    };

    /// <summary>As <see cref="PersistPending"/>, for a write that is failing anyway: its own error is the one to report.</summary>
    private void TryPersistPending()
    {
        try
        {
            PersistState(null, onlyIfNeeded: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ReplicationException)
        {
            // The trigger stays pending: the next write records it before it proceeds, or fails with this error.
            _ = ex;
        }
    }

    /// <summary>Where <see cref="PersistPending"/> is called: before a write, after one, or at the end of a flush.</summary>
    private enum PersistPoint
    {
        /// <summary>Before a write proceeds: a failure means the write was not performed.</summary>
        BeforeWrite,

        /// <summary>After a write reached the disk although its direct log write failed (that log is given up; the whole disk is marked for resync).</summary>
        AfterUnloggedWrite,

        /// <summary>After a write was performed, and logged if tracking is on (a DataWriteGuid to record, or another writer's trigger).</summary>
        AfterWrite,

        /// <summary>At the end of a flush, after the disk's flush and the log's fsync.</summary>
        Flush,
    }
}
