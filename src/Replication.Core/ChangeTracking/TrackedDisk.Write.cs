using System.Buffers;
using System.Runtime.CompilerServices;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.Core.ChangeTracking;

public sealed partial class TrackedDisk
{
    private enum BeginOutcome
    {
        Proceed,
        Wait,
        Arm,
        Persist,

        /// <summary>The write will be logged directly and its data checksum was not computed: compute it (outside the gate) and retry.</summary>
        Hash,
    }

    /// <inheritdoc />
    /// <remarks>
    /// Logged, then written to the disk; returns when both are issued. Durable after the next <see cref="Flush"/>. A
    /// write overlapping one still in flight waits for it, so the log's order is the disk's.
    /// </remarks>
    /// <exception cref="ReplicationException">
    /// A tracking failure could not be recorded durably (<see cref="ReplicationErrorCode.IoFailure"/>). Usually the write
    /// was then not performed; but a large write whose direct log write failed may already be on the disk: the message
    /// says so, and the whole disk is marked for resync.
    /// </exception>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckWrite(offset, source.Length);
        if (source.IsEmpty)
        {
            return;
        }

        uint? checksum = DirectChecksum(offset, source);
        WriteTicket ticket;
        while (true)
        {
            BeginOutcome outcome = TryBegin(offset, source, checksum, out ticket, out Task? wait);
            if (outcome == BeginOutcome.Proceed)
            {
                break;
            }

            if (outcome == BeginOutcome.Hash)
            {
                checksum = HrlChecksum.Compute(source);
                continue;
            }

            WaitForBegin(outcome, offset, source.Length, wait);
        }

        // The log's data first (WriteLog never throws), as an appended write's is: a flush waiting for this reservation then
        // waits for a log write only, never for this write's disk I/O.
        bool logFailed = !WriteLog(ticket, source);
        bool written = false;
        try
        {
            _disk.Write(ticket.DiskOffset, ticket.Cover is null ? source : ticket.Cover.AsSpan(0, ticket.Length));
            written = true;
        }
        finally
        {
            End(ticket, written, logFailed);
        }
    }

    /// <inheritdoc cref="Write"/>
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        CheckWrite(offset, source.Length);
        if (source.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            uint? checksum = DirectChecksum(offset, source.Span);
            if (TryBegin(offset, source.Span, checksum, out WriteTicket ticket, out _) != BeginOutcome.Proceed)
            {
                return WriteSlowAsync(offset, source, checksum, cancellationToken);
            }

            return WriteDiskAsync(ticket, source, cancellationToken);
        }
        catch (Exception ex)
        {
            // Only bad arguments are thrown by the call (above); a failed write is a faulted task, as the caller awaits it.
            return ValueTask.FromException(ex);
        }
    }

    /// <summary>
    /// Issues the disk write, then (while the disk's asynchronous write runs) writes a directly logged write's data into
    /// the log from the same buffer; the write ends when both have.
    /// </summary>
    private ValueTask WriteDiskAsync(WriteTicket ticket, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        ValueTask pending;
        try
        {
            pending = _disk.WriteAsync(ticket.DiskOffset, ticket.Cover is null ? source : ticket.Cover.AsMemory(0, ticket.Length), cancellationToken);
        }
        catch (Exception)
        {
            End(ticket, written: false, logFailed: !WriteLog(ticket, source.Span));
            throw;
        }

        bool logFailed = !WriteLog(ticket, source.Span);
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            End(ticket, written: true, logFailed);
            return ValueTask.CompletedTask;
        }

        return AwaitDiskAsync(this, pending, ticket, logFailed);

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
        static async ValueTask AwaitDiskAsync(TrackedDisk self, ValueTask pending, WriteTicket ticket, bool logFailed)
        {
            bool written = false;
            try
            {
                await pending.ConfigureAwait(false);
                written = true;
            }
            finally
            {
                self.End(ticket, written, logFailed);
            }
        }
    }

    /// <summary>
    /// Writes a directly logged write's data at the log position reserved for it (nothing for other writes). False when
    /// the log write failed: tracking then stops (see <see cref="End"/>).
    /// </summary>
    private bool WriteLog(in WriteTicket ticket, ReadOnlySpan<byte> source)
    {
        if (ticket.Log is not { } log)
        {
            return true;
        }

        try
        {
            bool seamPassed = false;
            try
            {
                BeforeLogAppend?.Invoke();
                seamPassed = true;
            }
            finally
            {
                if (!seamPassed)
                {
                    log.AbandonReserved(ticket.LogPosition);
                }
            }

            log.WriteReserved(ticket.LogPosition, source);
            return true;
        }
        catch (Exception)
        {
            // Whatever failed, the entry's batch is torn (WriteReserved and AbandonReserved fault the writer): tracking stops
            // and the disk is marked for a resync (End). Letting an unexpected exception escape instead would skip End and
            // leave the write in flight for ever, hanging the next flush or rotation.
            return false;
        }
    }

    /// <summary>
    /// The log checksum of a write that will be logged directly (see <see cref="DirectLogMinimum"/>), computed outside the
    /// gate; null for a write that is not logged directly, or when tracking is stopped (no log: hashing the data would be
    /// wasted). Tracking may start or stop before the write takes the gate: <see cref="TryBegin"/> then asks for the
    /// checksum (<see cref="BeginOutcome.Hash"/>) or ignores it.
    /// </summary>
    private uint? DirectChecksum(long offset, ReadOnlySpan<byte> source) =>
        IsDirect(offset, source.Length) && Volatile.Read(ref _writer) is not null ? HrlChecksum.Compute(source) : null;

    private static bool IsDirect(long offset, int length) =>
        length is >= DirectLogMinimum and <= DirectLogMaximum && ((offset | (long)length) & (SectorSize - 1)) == 0;

    private async ValueTask WriteSlowAsync(long offset, ReadOnlyMemory<byte> source, uint? checksum, CancellationToken cancellationToken)
    {
        WriteTicket ticket;
        while (true)
        {
            BeginOutcome outcome = TryBegin(offset, source.Span, checksum, out ticket, out Task? wait);
            if (outcome == BeginOutcome.Proceed)
            {
                break;
            }

            if (outcome == BeginOutcome.Hash)
            {
                checksum = HrlChecksum.Compute(source.Span);
            }
            else if (outcome == BeginOutcome.Wait)
            {
                await wait!.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                WaitForBegin(outcome, offset, source.Length, wait);
            }
        }

        await WriteDiskAsync(ticket, source, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Zeros are tracked like any data: the range is written as ordinary writes of zeros (at most 1 MiB each, in
    /// ascending order, from a shared buffer), each logged and then written to the disk, so a replica that applies the
    /// logs gets the zeros too. Durable after the next <see cref="Flush"/>, like a write.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="ReplicationException">A tracking failure could not be recorded durably (<see cref="ReplicationErrorCode.IoFailure"/>).</exception>
    public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckWrite(offset, length);
        return ZeroBuffer.WriteAsync(this, offset, length, cancellationToken);
    }

    private void WaitForBegin(BeginOutcome outcome, long offset, int length, Task? wait)
    {
        switch (outcome)
        {
            case BeginOutcome.Wait:
                wait!.GetAwaiter().GetResult();
                break;
            case BeginOutcome.Arm:
                Arm(offset & ~(long)(SectorSize - 1), AlignUp(offset + length));
                break;
            default:
                PersistPending(PersistPoint.BeforeWrite);
                break;
        }
    }

    private void CheckWrite(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        VirtualDisk.CheckInside(this, offset, length);
    }

    private static long AlignUp(long value) => (value + SectorSize - 1) & ~(long)(SectorSize - 1);

    /// <summary>
    /// Under the gate: checks that nothing overlapping is in flight and that the regions are armed, widens an unaligned
    /// write to whole sectors, appends it to the log and registers it in flight. Allocates nothing on this path.
    /// </summary>
    private BeginOutcome TryBegin(long offset, ReadOnlySpan<byte> source, uint? checksum, out WriteTicket ticket, out Task? wait)
    {
        long start = offset & ~(long)(SectorSize - 1);
        long end = AlignUp(offset + source.Length);
        ticket = default;
        wait = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_persistNeeded)
            {
                return BeginOutcome.Persist;
            }

            if (_inFlightCount == MaxInFlight || OverlapsInFlightLocked(start, end))
            {
                wait = ChangedLocked();
                return BeginOutcome.Wait;
            }

            HrlWriter? writer = _writer;
            if (writer is not null && !AllSet(_armed, start, end))
            {
                return BeginOutcome.Arm;
            }

            bool direct = writer is not null && IsDirect(offset, source.Length);
            if (direct && checksum is null)
            {
                // Tracking started after the caller looked: hashing up to 16 MiB is not done under the gate.
                return BeginOutcome.Hash;
            }

            byte[]? cover = null;
            ReadOnlySpan<byte> logged = source;
            if (start != offset || end != offset + source.Length)
            {
                cover = ArrayPool<byte>.Shared.Rent((int)(end - start));
                try
                {
                    FillCover(offset, source, start, end, cover);
                }
                catch (Exception)
                {
                    ArrayPool<byte>.Shared.Return(cover);
                    throw;
                }

                logged = cover.AsSpan(0, (int)(end - start));
            }

            long logPosition = -1;
            if (writer is not null)
            {
                try
                {
                    if (direct)
                    {
                        // Only the entry now; the data goes from the caller's buffer after the gate (WriteLog).
                        logPosition = writer.Reserve(start, source.Length, checksum!.Value);
                    }
                    else
                    {
                        BeforeLogAppend?.Invoke();
                        writer.Append(start, logged);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    LogFailedLocked(writer);
                    if (cover is not null)
                    {
                        ArrayPool<byte>.Shared.Return(cover);
                    }

                    return BeginOutcome.Persist;
                }

                SetBits(_epochRegions, start, end);
                _epochDataBytes += end - start;
            }

            long id = ++_nextWriteId;
            _inFlight[_inFlightCount++] = new InFlightWrite { Id = id, Start = start, End = end, Epoch = _epoch };
            ticket = new WriteTicket(id, start, (int)(end - start), cover, writer is not null, logPosition < 0 ? null : writer, logPosition);
            return BeginOutcome.Proceed;
        }
    }

    /// <summary>The covering sectors: the partial head and tail sectors as the disk holds them, the new bytes between.</summary>
    private void FillCover(long offset, ReadOnlySpan<byte> source, long start, long end, byte[] cover)
    {
        if (offset != start)
        {
            _disk.Read(start, cover.AsSpan(0, SectorSize));
        }

        long tail = end - SectorSize;
        if (end != offset + source.Length && (tail != start || offset == start))
        {
            _disk.Read(tail, cover.AsSpan((int)(tail - start), SectorSize));
        }

        source.CopyTo(cover.AsSpan((int)(offset - start)));
    }

    /// <summary>
    /// Removes the write from the in-flight set; records a failed disk write of a logged write, and stops tracking when
    /// its direct log write failed (the log is torn there: the whole disk needs a resync).
    /// </summary>
    private void End(WriteTicket ticket, bool written, bool logFailed = false)
    {
        bool persist = false;
        lock (_gate)
        {
            if (logFailed)
            {
                // A log swapped out (its sealing will fail on the torn batch), or tracking already stopped, is marked now
                // all the same, so what the write reports below is true when it reports it.
                LogFailedLocked(ticket.Log);
                persist = true;
            }

            for (int i = 0; i < _inFlightCount; i++)
            {
                if (_inFlight[i].Id == ticket.Id)
                {
                    _inFlight[i] = _inFlight[--_inFlightCount];
                    break;
                }
            }

            SignalChangedLocked();
            if (!written && ticket.Logged)
            {
                _pendingReasons |= ResyncReasons.DiskWriteFailed;
                _pendingRanges.Add(new DiskExtent(ticket.DiskOffset, ticket.Length));
                _persistNeeded = true;
                persist = true;
            }
            else if (written && _captureDataWriteGuid && _disk.DataWriteGuid is Guid current && current != _state.LastDataWriteGuid)
            {
                // A VHDX renews its DataWriteGuid with the first write of each open; recording the new one now lets the
                // next open tell a change made while tracking was off from this session's own writes.
                _captureDataWriteGuid = false;
                _persistNeeded = true;
                persist = true;
            }
        }

        if (ticket.Cover is not null)
        {
            ArrayPool<byte>.Shared.Return(ticket.Cover);
        }

        if (persist)
        {
            if (written)
            {
                PersistPending(logFailed ? PersistPoint.AfterUnloggedWrite : PersistPoint.AfterWrite);
            }
            else
            {
                TryPersistPending();
            }
        }
    }

    /// <summary>
    /// Arms the regions of [start, end) durably before a write goes into them. Group commit, as for flushes: every region
    /// requested by the time the state is written is armed by that one write, and a writer whose regions an earlier
    /// write armed meanwhile writes nothing.
    /// </summary>
    private void Arm(long start, long end)
    {
        lock (_gate)
        {
            SetBits(_armRequests, start, ArmAheadEnd(start, end));
        }

        PersistState(
            next =>
            {
                ulong[] armed = (ulong[])_armed.Clone();
                for (int i = 0; i < armed.Length; i++)
                {
                    armed[i] |= _armRequests[i];
                }

                next.Armed = armed;
                return () =>
                {
                    _armed = armed;
                    for (int i = 0; i < armed.Length; i++)
                    {
                        _armRequests[i] &= ~armed[i];
                    }
                };
            },
            skipIf: () => AllSet(_armed, start, end));
    }

    /// <summary>
    /// Under the gate: where arming for a write into [start, end) ends. A sequential writer would otherwise wait for a
    /// durable state write (two fsyncs) at every region it enters; so as many regions as are armed in an unbroken run just
    /// before the write's first region (at most <see cref="MaxArmAhead"/>) are armed ahead of it too. A random writer,
    /// whose regions are rarely armed in runs, arms little more than it writes; regions armed ahead and never written are
    /// unmarked by the next rotation, and after a crash they are only checked, not lost.
    /// </summary>
    private long ArmAheadEnd(long start, long end)
    {
        long first = start >> _regionShift;
        long run = 0;
        while (run < MaxArmAhead && first - run - 1 >= 0 && (_armed[(first - run - 1) >> 6] & (1UL << (int)((first - run - 1) & 63))) != 0)
        {
            run++;
        }

        long lastRegion = (end - 1) >> _regionShift;
        long ahead = Math.Min(_disk.VirtualSize, (lastRegion + 1 + run) << _regionShift);
        return Math.Max(end, ahead);
    }

    /// <summary>
    /// Called under the gate when <paramref name="log"/> failed: the whole disk needs a resync, and tracking stops when it
    /// is the active log.
    /// </summary>
    private void LogFailedLocked(HrlWriter? log)
    {
        if (ReferenceEquals(_writer, log))
        {
            _writer?.Dispose();
            _writer = null;
        }

        _pendingReasons |= ResyncReasons.LogWriteFailed;
        _pendingWholeDisk = true;
        _persistNeeded = true;
    }

    private bool OverlapsInFlightLocked(long start, long end)
    {
        for (int i = 0; i < _inFlightCount; i++)
        {
            if (_inFlight[i].Start < end && start < _inFlight[i].End)
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyInFlightLocked(long throughEpoch)
    {
        for (int i = 0; i < _inFlightCount; i++)
        {
            if (_inFlight[i].Epoch <= throughEpoch)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A task completed at the next change of the in-flight set (created only when someone waits).</summary>
    private Task ChangedLocked() => (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void SignalChangedLocked()
    {
        TaskCompletionSource? changed = _changed;
        if (changed is not null)
        {
            _changed = null;
            changed.TrySetResult();
        }
    }

    private bool AllSet(ulong[] bits, long start, long end)
    {
        for (long r = start >> _regionShift; r <= (end - 1) >> _regionShift; r++)
        {
            if ((bits[r >> 6] & (1UL << (int)(r & 63))) == 0)
            {
                return false;
            }
        }

        return true;
    }

    private void SetBits(ulong[] bits, long start, long end)
    {
        for (long r = start >> _regionShift; r <= (end - 1) >> _regionShift; r++)
        {
            bits[r >> 6] |= 1UL << (int)(r & 63);
        }
    }

    /// <summary>A write registered in flight: where it goes on the disk and, when widened, the covering sectors.</summary>
    /// <remarks><paramref name="Log"/> is set, with the position reserved in it, when the data is still to be written into the log.</remarks>
    private readonly record struct WriteTicket(long Id, long DiskOffset, int Length, byte[]? Cover, bool Logged, HrlWriter? Log, long LogPosition);
}
