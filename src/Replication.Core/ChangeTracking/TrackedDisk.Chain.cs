using System.Diagnostics;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

public sealed partial class TrackedDisk
{
    /// <summary>
    /// Seals the active log and continues in a new one chained to it. Writers are held only while the two are swapped;
    /// writes that return after the swap go to the new log.
    /// </summary>
    /// <remarks>
    /// The new log is created and recorded in the state first; then the logs are swapped; writes still in flight to the
    /// old log finish; the old log is sealed (final metadata block, <c>EOLLocation</c>, header checksum, fsync) and the
    /// disk flushed; the log is renamed durably to its sealed name, hashed into its sidecar, and recorded as sealed with
    /// its hash. When this returns, every write that returned before the call is durable in the sealed log (or an earlier
    /// one) and on the disk. A crash at any step leaves a state that <see cref="Open"/> completes. If tracking had stopped
    /// after a log failure, the failed log's valid prefix is sealed and tracking resumes in the new log; the recorded
    /// resync reasons stay until <see cref="CompleteResyncAsync"/>.
    /// </remarks>
    /// <returns>The sealed log.</returns>
    /// <exception cref="ObjectDisposedException">The disk is closed.</exception>
    /// <exception cref="IOException">Creating, sealing or recording a log failed; the chain stays valid.</exception>
    public async Task<SealedLog> RotateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RotateCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Releases the sealed logs up to and including <paramref name="throughSequenceNumber"/> (shipped and applied, or no
    /// longer wanted): they leave the chain's state durably, then their files and sidecars are deleted. Releasing what is
    /// already released does nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A log in that range is not sealed yet (the active log, or one being sealed).</exception>
    public async Task ReleaseAsync(long throughSequenceNumber, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            ReleaseCore(throughSequenceNumber);
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Starts a resynchronisation: rotates (so the writes from now on are in a new log, and tracking resumes if it had
    /// stopped), then releases every sealed log, which the resync supersedes. Copy the returned ranges (or the whole
    /// disk) to the replica, then apply the logs that follow <see cref="ResyncPlan.ContinueFromUniqueId"/>, then call
    /// <see cref="CompleteResyncAsync"/>. The reasons stay recorded until then, so a crash during the resync does not
    /// lose them.
    /// </summary>
    public async Task<ResyncPlan> BeginResyncAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            SealedLog sealedLog = await RotateCoreAsync(cancellationToken).ConfigureAwait(false);
            ResyncRequirement requirement;
            lock (_gate)
            {
                requirement = BuildRequirementLocked();
            }

            ReleaseCore(sealedLog.SequenceNumber);
            return new ResyncPlan(requirement, sealedLog.UniqueId);
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Ends a resynchronisation begun with <paramref name="plan"/>: clears the recorded reasons and ranges, unless a new
    /// trigger was recorded since the plan was made (then they stay and another resync is needed).
    /// </summary>
    /// <returns>True when the reasons were cleared.</returns>
    public async Task<bool> CompleteResyncAsync(ResyncPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            bool cleared = false;
            PersistState(next =>
            {
                if (next.Generation == plan.Requirement.Generation)
                {
                    next.Reasons = ResyncReasons.None;
                    next.WholeDisk = false;
                    next.Ranges.Clear();
                    cleared = true;
                }

                return null;
            });
            return cleared;
        }
        finally
        {
            _control.Release();
        }
    }

    private void ThrowIfClosed()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
        }
    }

    private async Task<SealedLog> RotateCoreAsync(CancellationToken cancellationToken)
    {
        Rotation rotation = PrepareRotation(cancellationToken);
        rotation.Round = await AcquireFlushLeadershipAsync(() => Swap(rotation), CancellationToken.None).ConfigureAwait(false);
        return await FinishRotationAsync(rotation).ConfigureAwait(false);
    }

    /// <summary>
    /// Rotates several disks at one instant: every disk's writers are held while all of them swap to their new logs, so
    /// the sealed logs end at a cut that is consistent across the disks. A write that returned before the call, on any of
    /// them, is in its disk's sealed log; a write that started after the swap is in none of them; a write that depends on
    /// another one (it started after that one returned) is never in a sealed log while the other is not. The recovery
    /// points of a machine's disks are built on this.
    /// </summary>
    /// <param name="disks">Distinct tracked disks (a machine's); rotated in a fixed order, whatever the list's order.</param>
    /// <param name="cancellationToken">Cancels before any disk has swapped; after that the rotation runs to its end.</param>
    /// <returns>The sealed log of each disk, in the order of <paramref name="disks"/>.</returns>
    /// <exception cref="ArgumentException">The list is empty or names a disk twice.</exception>
    /// <exception cref="ObjectDisposedException">A disk is closed.</exception>
    /// <exception cref="IOException">Creating, sealing or recording a log failed; every chain stays valid.</exception>
    public static async Task<IReadOnlyList<SealedLog>> RotateTogetherAsync(IReadOnlyList<TrackedDisk> disks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disks);
        if (disks.Count == 0 || disks.Distinct().Count() != disks.Count)
        {
            throw new ArgumentException("Give one or more distinct tracked disks.", nameof(disks));
        }

        // One global order (by log folder) so that two barriers over overlapping disks cannot deadlock.
        TrackedDisk[] ordered = [.. disks.OrderBy(d => d.LogDirectory, StringComparer.Ordinal)];
        foreach (TrackedDisk disk in ordered)
        {
            ObjectDisposedException.ThrowIf(disk._disposed, disk);
        }

        int controlled = 0;
        var rotations = new Rotation?[ordered.Length];
        try
        {
            foreach (TrackedDisk disk in ordered)
            {
                await disk._control.WaitAsync(cancellationToken).ConfigureAwait(false);
                controlled++;
            }

            for (int i = 0; i < ordered.Length; i++)
            {
                try
                {
                    rotations[i] = ordered[i].PrepareRotation(cancellationToken);
                }
                catch
                {
                    // A disk whose next log is already recorded must rotate: it does so on its own, and the barrier fails.
                    for (int j = 0; j < i; j++)
                    {
                        rotations[j]!.Round = await ordered[j].AcquireFlushLeadershipAsync(() => ordered[j].Swap(rotations[j]!), CancellationToken.None).ConfigureAwait(false);
                        await ordered[j].FinishRotationAsync(rotations[j]!).ConfigureAwait(false);
                    }

                    throw;
                }
            }

            // Hold every disk's flush round (a flush in progress finishes first), then every gate at once for the swaps.
            for (int i = 0; i < ordered.Length; i++)
            {
                rotations[i]!.Round = await ordered[i].AcquireFlushLeadershipAsync(null, CancellationToken.None).ConfigureAwait(false);
            }

            SwapTogether(ordered, rotations!, 0);
            var sealedLogs = new Dictionary<TrackedDisk, SealedLog>();
            for (int i = 0; i < ordered.Length; i++)
            {
                sealedLogs[ordered[i]] = await ordered[i].FinishRotationAsync(rotations[i]!).ConfigureAwait(false);
            }

            return [.. disks.Select(d => sealedLogs[d])];
        }
        finally
        {
            for (int i = 0; i < controlled; i++)
            {
                ordered[i]._control.Release();
            }
        }
    }

    private static void SwapTogether(TrackedDisk[] disks, Rotation[] rotations, int index)
    {
        if (index == disks.Length)
        {
            return;
        }

        lock (disks[index]._gate)
        {
            SwapTogether(disks, rotations, index + 1);
            disks[index].Swap(rotations[index]);
        }
    }

    /// <summary>The next log created and recorded in the state, ready to be swapped in.</summary>
    private Rotation PrepareRotation(CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        FinishLeftoverSealing();
        long sequence;
        Guid previous;
        TrackedLogEntry old;
        lock (_gate)
        {
            sequence = _state.NextSequence;
            previous = _activeUniqueId;
            old = _state.Logs[^1];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var identity = new HrlLogIdentity(Guid.NewGuid(), previous, _disk.DataWriteGuid ?? Guid.Empty);
        string nextPath = ActivePath(sequence);
        HrlWriter next = CreateLog(LogDirectory, nextPath, identity, _options);
        try
        {
            // Recorded before any write can go to it, so a crash from here on finds both logs in the state.
            PersistState(state =>
            {
                state.Logs[^1] = state.Logs[^1] with { Status = TrackedLogStatus.Sealing };
                state.Logs.Add(new TrackedLogEntry(sequence, TrackedLogStatus.Active, identity.UniqueId, previous, 0, 0, 0, 0));
                state.NextSequence = sequence + 1;
                state.ClosedCleanly = false;
                return null;
            });
        }
        catch (Exception)
        {
            next.Dispose();
            File.Delete(nextPath);
            throw;
        }

        // From here the rotation runs to its end: the state already names the new log.
        return new Rotation(old, next, sequence, identity.UniqueId);
    }

    /// <summary>Moves writers to the new log. Runs under <see cref="_gate"/>, holding the flush round.</summary>
    private void Swap(Rotation rotation)
    {
        long started = Stopwatch.GetTimestamp();
        rotation.OldWriter = _writer;
        _writer = rotation.Next;
        rotation.OldEpoch = _epoch++;
        rotation.OldRegions = _epochRegions;
        _epochRegions = new ulong[_epochRegions.Length];
        rotation.OldDataBytes = _epochDataBytes;
        _epochDataBytes = 0;
        _activeSequence = rotation.Sequence;
        _activeUniqueId = rotation.UniqueId;
        LastSwapDuration = Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Seals the old log after the swap, records it, and prepares the zeros for the log after the new one.</summary>
    private async Task<SealedLog> FinishRotationAsync(Rotation rotation)
    {
        TrackedLogEntry old = rotation.Old;
        TrackedLogEntry sealedEntry = await SealAfterSwapAsync(old, rotation.OldWriter, rotation.OldEpoch, rotation.OldDataBytes, rotation.Round).ConfigureAwait(false);
        ulong[] oldRegions = rotation.OldRegions;
        PersistState(state =>
        {
            state.Logs[state.Logs.FindIndex(l => l.Sequence == old.Sequence)] = sealedEntry;

            // Every write of the old log is durable in it and on the disk, so its regions could be disarmed; those it
            // wrote stay armed for one more log anyway, so a region written in every log (a hot spot, or random writes
            // all over the disk) is not disarmed and re-armed, a state write each time, at every rotation. Writers see
            // the smaller set at once; the file holds a superset until it is replaced.
            ulong[] disarmed = (ulong[])_epochRegions.Clone();
            for (int i = 0; i < disarmed.Length; i++)
            {
                disarmed[i] |= oldRegions[i];
            }

            _armed = disarmed;
            state.Armed = disarmed;
            return null;
        });

        // Writers are already on the new log; the zeros for the one after it are written now, off their path.
        PrepareSpare(LogDirectory, _options.LogPreallocation);
        return ToSealedLog(sealedEntry);
    }

    /// <summary>One rotation in progress: the log being sealed, the one taking over, and what the swap moved.</summary>
    private sealed class Rotation(TrackedLogEntry old, HrlWriter next, long sequence, Guid uniqueId)
    {
        public TrackedLogEntry Old { get; } = old;

        public HrlWriter Next { get; } = next;

        public long Sequence { get; } = sequence;

        public Guid UniqueId { get; } = uniqueId;

        public long Round { get; set; }

        public HrlWriter? OldWriter { get; set; }

        public long OldEpoch { get; set; }

        public long OldDataBytes { get; set; }

        public ulong[] OldRegions { get; set; } = [];
    }

    /// <summary>A new log, in the prepared file of zeros when there is one.</summary>
    private static HrlWriter CreateLog(string directory, string path, HrlLogIdentity identity, TrackedDiskOptions options)
    {
        string spare = Path.Combine(directory, SpareName);
        return options.LogPreallocation > 0 && File.Exists(spare) && new FileInfo(spare).Length == options.LogPreallocation
            ? HrlWriter.CreateFromZeroedFile(spare, path, identity, options.Clock, options.LogOptions)
            : HrlWriter.Create(path, identity, options.Clock, options.LogOptions);
    }

    /// <summary>
    /// Writes the file of zeros the next log will be created in, unless it exists: beside it first, flushed, then
    /// renamed, so the name only ever holds a complete file of zeros (a crash leaves a temporary file, removed at open).
    /// </summary>
    private static void PrepareSpare(string directory, long length)
    {
        string spare = Path.Combine(directory, SpareName);
        if (File.Exists(spare) && (length == 0 || new FileInfo(spare).Length != length))
        {
            // Prepared for other options: of no use now.
            File.Delete(spare);
        }

        if (length == 0 || File.Exists(spare))
        {
            return;
        }

        string temporary = Path.Combine(directory, "." + SpareName + ".tmp");
        byte[] zeros = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            Array.Clear(zeros);
            using (Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                for (long offset = 0; offset < length; offset += 1 << 20)
                {
                    RandomAccess.Write(handle, zeros.AsSpan(0, 1 << 20), offset);
                }

                RandomAccess.FlushToDisk(handle);
            }

            File.Move(temporary, spare, overwrite: false);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    /// <summary>
    /// Waits for the old log's writes in flight, seals it, flushes the disk (completing the flush round held since the
    /// swap), then renames and hashes it.
    /// </summary>
    private async Task<TrackedLogEntry> SealAfterSwapAsync(TrackedLogEntry old, HrlWriter? oldWriter, long oldEpoch, long oldDataBytes, long round)
    {
        bool sealedCleanly = false;
        long records = 0;
        bool done = false;
        try
        {
            await DrainAsync(oldEpoch).ConfigureAwait(false);
            if (oldWriter is not null)
            {
                try
                {
                    oldWriter.Seal();
                    records = oldWriter.CommittedEntryCount;
                    sealedCleanly = true;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    lock (_gate)
                    {
                        LogFailedLocked(oldWriter);
                    }
                }
                finally
                {
                    oldWriter.Dispose();
                }
            }

            await _disk.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            done = true;
        }
        finally
        {
            EndFlushRound(round, done);
        }

        if (sealedCleanly)
        {
            string sealedPath = SealedPath(old.Sequence);
            DurableFile.Move(ActivePath(old.Sequence), sealedPath, overwrite: true);
            return SealedEntry(old, sealedPath, records, oldDataBytes);
        }

        return FinishLog(LogDirectory, _options.Clock, old, out _)
            ?? throw new ReplicationException(
                ReplicationErrorCode.ChainBroken,
                false,
                $"{ActivePath(old.Sequence)}: the log failed and its valid prefix could not be sealed; the next open records the chain as broken.");
    }

    /// <summary>Retries the end of a rotation that failed after its swap (the state still lists a log being sealed).</summary>
    private void FinishLeftoverSealing()
    {
        TrackedLogEntry entry;
        lock (_gate)
        {
            int index = _state.Logs.FindIndex(l => l.Status == TrackedLogStatus.Sealing);
            if (index < 0)
            {
                return;
            }

            entry = _state.Logs[index];
        }

        TrackedLogEntry? finished = FinishLog(LogDirectory, _options.Clock, entry, out _);
        if (finished is not TrackedLogEntry sealedEntry)
        {
            throw new ReplicationException(
                ReplicationErrorCode.ChainBroken,
                false,
                $"{ActivePath(entry.Sequence)}: a log left half-sealed by a failed rotation cannot be sealed; reopen the disk to record the chain as broken.");
        }

        PersistState(state =>
        {
            state.Logs[state.Logs.FindIndex(l => l.Sequence == entry.Sequence)] = sealedEntry;
            return null;
        });
    }

    private void ReleaseCore(long throughSequenceNumber)
    {
        List<TrackedLogEntry> released;
        lock (_gate)
        {
            if (_state.Logs.Any(l => l.Sequence <= throughSequenceNumber && l.Status != TrackedLogStatus.Sealed))
            {
                throw new ArgumentOutOfRangeException(nameof(throughSequenceNumber), throughSequenceNumber, "Only sealed logs can be released; that range includes a log still active or being sealed.");
            }

            released = [.. _state.Logs.TakeWhile(l => l.Sequence <= throughSequenceNumber)];
        }

        if (released.Count == 0)
        {
            return;
        }

        PersistState(state =>
        {
            state.Logs.RemoveRange(0, released.Count);
            state.ChainHead = released[^1].UniqueId;
            return null;
        });

        // A crash before the files are gone leaves them unlisted; the next open removes them.
        foreach (TrackedLogEntry log in released)
        {
            File.Delete(HrlIntegrity.GetSidecarPath(SealedPath(log.Sequence)));
            File.Delete(SealedPath(log.Sequence));
        }
    }

    private async Task DrainAsync(long throughEpoch)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (!AnyInFlightLocked(throughEpoch))
                {
                    return;
                }

                wait = ChangedLocked();
            }

            await wait.ConfigureAwait(false);
        }
    }

    private async Task CloseAsync()
    {
        await _control.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }
            }

            FinishLeftoverSealing();
            HrlWriter? oldWriter = null;
            long oldEpoch = 0;
            long oldDataBytes = 0;
            TrackedLogEntry active = default;
            long round = await AcquireFlushLeadershipAsync(
                () =>
                {
                    _closed = true;
                    oldWriter = _writer;
                    _writer = null;
                    oldEpoch = _epoch++;
                    oldDataBytes = _epochDataBytes;
                    active = _state.Logs[^1];
                },
                CancellationToken.None).ConfigureAwait(false);

            bool empty = oldWriter is not null && oldWriter.CommittedEntryCount + oldWriter.PendingEntryCount == 0;
            TrackedLogEntry? sealedEntry = null;
            if (empty)
            {
                bool done = false;
                try
                {
                    await DrainAsync(oldEpoch).ConfigureAwait(false);
                    oldWriter!.Dispose();
                    await _disk.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    done = true;
                }
                finally
                {
                    EndFlushRound(round, done);
                }
            }
            else
            {
                sealedEntry = await SealAfterSwapAsync(active, oldWriter, oldEpoch, oldDataBytes, round).ConfigureAwait(false);
            }

            ulong[] none = new ulong[_armed.Length];
            PersistState(state =>
            {
                int index = state.Logs.FindIndex(l => l.Sequence == active.Sequence);
                if (sealedEntry is TrackedLogEntry entry)
                {
                    state.Logs[index] = entry;
                }
                else
                {
                    // An empty log is dropped rather than kept as a sealed log with nothing in it.
                    state.Logs.RemoveAt(index);
                }

                state.ClosedCleanly = true;
                _armed = none;
                state.Armed = none;
                return null;
            });

            if (sealedEntry is null)
            {
                File.Delete(ActivePath(active.Sequence));
            }
        }
        finally
        {
            _control.Release();
        }
    }
}
