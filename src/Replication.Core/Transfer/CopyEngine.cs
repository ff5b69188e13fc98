using System.Buffers;
using System.Runtime.CompilerServices;
using Replication.Core.Disks;
using Replication.Core.IO;
using Replication.Core.Resilience;

namespace Replication.Core.Transfer;

/// <summary>
/// The one copy engine: seeding, resynchronisation, conversion and log apply all run on it. Ranges come in ascending
/// order; data ranges are read with pooled buffers in pieces of at most <see cref="TransferOptions.MaxWriteSize"/>
/// (cut at multiples of it, so a dynamic destination sees whole-block writes), scanned for runs of zeros, and written
/// through the sink; zero runs and ranges known to be zero are made zero by the sink (a hole, cleared pages) or skipped
/// when the destination already reads as zeros. <see cref="TransferOptions.MaxConcurrency"/> workers each own one
/// buffer; writes are bandwidth-limited and every request is retried while it fails transiently.
/// </summary>
/// <remarks>
/// The watermark is the end of the longest completed prefix of pieces. A checkpoint (the caller's, through
/// <see cref="SaveCheckpoint"/>) is taken after the sink is flushed, so it never claims what is not durable, every
/// <see cref="TransferOptions.CheckpointInterval"/> of the clock or <see cref="CheckpointBytes"/> of work, and when
/// the run is cancelled; while one is taken (and reported), no new piece starts, so a caller that holds up the report
/// holds up the copy. A replica writer keeps its own fence alive while it is open. One run per instance.
/// </remarks>
internal sealed class CopyEngine
{
    /// <summary>Largest single zeroing of a range the source knows is zero.</summary>
    private const long MaxZeroRequest = 1L << 30;

    private readonly ICopySource _source;
    private readonly IDiskSink _sink;
    private readonly IEnumerable<CopyRange> _ranges;
    private readonly TransferOptions _options;
    private readonly TimeProvider _time;
    private readonly TransientRetry _retry;
    private readonly string _readWhat;
    private readonly string _writeWhat;
    private readonly object _lock = new();
    private readonly Lock _reportLock = new();
    private readonly string _flushWhat;

    private IEnumerator<Piece>? _pieces;

    /// <summary>
    /// The pieces taken and not yet below the watermark, by sequence number (<see cref="_head"/> to <see cref="_next"/>),
    /// at index sequence % length: a pooled ring that grows (by renting a larger one) only while a slow piece holds the
    /// watermark back, so a run allocates nothing per piece however far the other workers get ahead.
    /// </summary>
    private PieceState[] _window = [];
    private long _head;
    private long _next;
    private long _watermark;
    private long _savedWatermark;
    private long _sentBelowWatermark;
    private long _zeroedBelowWatermark;
    private long _read;
    private long _sent;
    private long _zeroed;
    private long _requests;
    private long _done;
    private long _started;
    private long _lastCheckpoint;
    private long _doneAtCheckpoint;
    private long _lastReport;
    private int _checkpointing;
    private volatile TaskCompletionSource? _paused;
    private BandwidthLimiter? _limiter;

    /// <param name="source">Where data ranges are read.</param>
    /// <param name="sink">Where everything is written.</param>
    /// <param name="ranges">The work, ascending and non-overlapping; data ranges are read, zero ranges zeroed.</param>
    /// <param name="total">Bytes the ranges cover (for progress).</param>
    /// <param name="options">Concurrency, sizes, bandwidth, retries, intervals.</param>
    /// <param name="timeProvider">The clock for the bandwidth limit, deadlines, back-off, checkpoints and progress.</param>
    public CopyEngine(ICopySource source, IDiskSink sink, IEnumerable<CopyRange> ranges, long total, TransferOptions options, TimeProvider timeProvider)
    {
        _source = source;
        _sink = sink;
        _ranges = ranges;
        Total = total;
        _options = options;
        _time = timeProvider;
        _retry = new TransientRetry(options.Retry, options.RequestTimeout, timeProvider);
        _readWhat = $"read from {source.Location}";
        _writeWhat = $"write to {sink.Location}";
        _flushWhat = $"flush {sink.Location}";
    }

    /// <summary>Bytes the ranges cover.</summary>
    public long Total { get; }

    /// <summary>Everything below this offset is already done (a resumed run); pieces below it are skipped.</summary>
    public long ResumeFrom { get; init; }

    /// <summary>Bytes of the ranges below <see cref="ResumeFrom"/>.</summary>
    public long DoneBefore { get; init; }

    /// <summary>True when the destination reads as zeros before the run: zero runs are then skipped, not zeroed.</summary>
    public bool DestinationKnownZero { get; init; }

    /// <summary>
    /// True (the default) to scan data for runs of zeros and make them zero instead of sending them; false when the
    /// caller already knows where the zeros are (a resync's ranges zero on the source) and sends data ranges whole.
    /// </summary>
    public bool ScanForZeros { get; init; } = true;

    /// <summary>Bytes of work between checkpoints, besides the time interval; 0 for none.</summary>
    public long CheckpointBytes { get; init; }

    /// <summary>
    /// Saves a checkpoint, after the sink was flushed: everything below the watermark is durable; with the data bytes
    /// sent and the bytes zeroed below it by this run. Null for no checkpoints.
    /// </summary>
    public Func<CopyWatermark, CancellationToken, ValueTask>? SaveCheckpoint { get; init; }

    /// <summary>Receives progress at most every <see cref="TransferOptions.ProgressInterval"/>, after each checkpoint and at the end.</summary>
    public Action<CopySnapshot>? Progress { get; init; }

    /// <summary>Runs the copy; the sink is flushed before this returns.</summary>
    /// <exception cref="ReplicationException">A non-recoverable failure at once; a recoverable one once a request used all its attempts.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; a checkpoint, when kept, was saved first.</exception>
    public async Task<TransferResult> RunAsync(CancellationToken cancellationToken)
    {
        _started = _time.GetTimestamp();
        _watermark = _savedWatermark = ResumeFrom;
        _done = DoneBefore;
        _doneAtCheckpoint = DoneBefore;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            // Rented inside the try: whatever throws between here and the workers still gives the ring back.
            _pieces = Pieces().GetEnumerator();
            _window = ArrayPool<PieceState>.Shared.Rent(Math.Max(64, 4 * _options.MaxConcurrency));
            if (_options.MaxBytesPerSecond is { } rate)
            {
                // A burst of one write, or a twentieth of a second's worth when that is more.
                _limiter = new BandwidthLimiter(rate, Math.Max(_options.MaxWriteSize, rate / 20), _time);
            }

            var workers = new Task[_options.MaxConcurrency];
            for (int i = 0; i < workers.Length; i++)
            {
                workers[i] = WorkerAsync(stop);
            }

            await AwaitQuietly(Task.WhenAll(workers)).ConfigureAwait(false);
            ThrowFirstFailure(cancellationToken, workers);

            await FlushAsync(cancellationToken).ConfigureAwait(false);
            Report(force: true, checkpoint: false);
            return new TransferResult
            {
                BytesTotal = Total,
                BytesRead = Interlocked.Read(ref _read),
                BytesSent = Interlocked.Read(ref _sent),
                BytesZeroed = Interlocked.Read(ref _zeroed),
                Requests = Interlocked.Read(ref _requests),
                Retries = _retry.Retries,
                ResumedFrom = ResumeFrom,
                Elapsed = _time.GetElapsedTime(_started),
            };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && SaveCheckpoint is not null)
        {
            // Interrupted on purpose: make what is done durable and say so, so the next run resumes here.
            await CheckpointAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        finally
        {
            // Every worker has finished (awaited above) before the ring goes back to the pool.
            _pieces?.Dispose();
            if (_window.Length > 0)
            {
                ArrayPool<PieceState>.Shared.Return(_window);
                _window = [];
            }
        }
    }

    private async Task WorkerAsync(CancellationTokenSource stop)
    {
        // On to the thread pool at once (as Task.Run would, without its closure and wrapper tasks).
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        CancellationToken cancellationToken = stop.Token;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.MaxWriteSize);
        var slot = new Slot();
        try
        {
            while (true)
            {
                if (_paused is { } checkpoint)
                {
                    // A checkpoint is being taken: no new piece starts until it is saved and reported.
                    await checkpoint.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }

                if (!TryTake(slot, out Piece piece))
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (piece.KnownZero)
                {
                    await ZeroAsync(piece.Offset, piece.Length, slot, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await CopyAsync(piece, buffer, slot, cancellationToken).ConfigureAwait(false);
                }

                Complete(slot, piece.Length);
                await MaybeCheckpointAsync(cancellationToken).ConfigureAwait(false);
                Report(force: false, checkpoint: false);
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CopyAsync(Piece piece, byte[] buffer, Slot slot, CancellationToken cancellationToken)
    {
        int length = (int)piece.Length;
        Memory<byte> data = buffer.AsMemory(0, length);
        await _retry.ExecuteAsync(
            static (s, ct) => s.Source.ReadAsync(s.Offset, s.Data, ct),
            (Source: _source, piece.Offset, Data: data),
            _readWhat,
            cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _read, length);

        if (!ScanForZeros)
        {
            await SendAsync(piece.Offset, data, slot, cancellationToken).ConfigureAwait(false);
            return;
        }

        int unit = _options.ZeroDetectionUnit;
        for (int position = 0; position < length;)
        {
            int end = ZeroScanner.NextRun(data.Span, position, unit, out bool isZero);
            if (isZero)
            {
                await ZeroAsync(piece.Offset + position, end - position, slot, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SendAsync(piece.Offset + position, data[position..end], slot, cancellationToken).ConfigureAwait(false);
            }

            position = end;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(long offset, ReadOnlyMemory<byte> data, Slot slot, CancellationToken cancellationToken)
    {
        if (_limiter is not null)
        {
            await _limiter.AcquireAsync(data.Length, cancellationToken).ConfigureAwait(false);
        }

        await _retry.ExecuteAsync(
            static (s, ct) => s.Sink.WriteAsync(s.Offset, s.Data, ct),
            (Sink: _sink, Offset: offset, Data: data),
            _writeWhat,
            cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _sent, data.Length);
        slot.Sent += data.Length;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ZeroAsync(long offset, long length, Slot slot, CancellationToken cancellationToken)
    {
        if (!DestinationKnownZero)
        {
            await _retry.ExecuteAsync(
                static (s, ct) => s.Sink.ZeroAsync(s.Offset, s.Length, ct),
                (Sink: _sink, Offset: offset, Length: length),
                _writeWhat,
                cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _requests);
        }

        Interlocked.Add(ref _zeroed, length);
        slot.Zeroed += length;
    }

    private bool TryTake(Slot slot, out Piece piece)
    {
        lock (_lock)
        {
            if (_pieces!.MoveNext())
            {
                piece = _pieces.Current;
                if (_next - _head == _window.Length)
                {
                    GrowWindow();
                }

                long sequence = _next++;
                _window[sequence % _window.Length] = new PieceState { End = piece.Offset + piece.Length };
                slot.Start(sequence);
                return true;
            }
        }

        piece = default;
        return false;
    }

    private void Complete(Slot slot, long length)
    {
        lock (_lock)
        {
            ref PieceState state = ref _window[slot.Sequence % _window.Length];
            state.Done = true;
            state.Sent = slot.Sent;
            state.Zeroed = slot.Zeroed;
            while (_head < _next && _window[_head % _window.Length] is { Done: true } first)
            {
                _watermark = first.End;
                _sentBelowWatermark += first.Sent;
                _zeroedBelowWatermark += first.Zeroed;
                _head++;
            }

            _done += length;
        }
    }

    /// <summary>Moves the ring (full: a slow piece holds the watermark back) into one twice as long. Under the lock.</summary>
    private void GrowWindow()
    {
        PieceState[] old = _window;
        PieceState[] larger = ArrayPool<PieceState>.Shared.Rent(2 * old.Length);
        for (long sequence = _head; sequence < _next; sequence++)
        {
            larger[sequence % larger.Length] = old[sequence % old.Length];
        }

        _window = larger;
        ArrayPool<PieceState>.Shared.Return(old);
    }

    private async ValueTask MaybeCheckpointAsync(CancellationToken cancellationToken)
    {
        if (SaveCheckpoint is null)
        {
            return;
        }

        long last = Volatile.Read(ref _lastCheckpoint);
        bool timeUp = _time.GetElapsedTime(last == 0 ? _started : last) >= _options.CheckpointInterval;
        bool workDone;
        lock (_lock)
        {
            workDone = CheckpointBytes > 0 && _done - _doneAtCheckpoint >= CheckpointBytes;
        }

        if ((!timeUp && !workDone) || Interlocked.Exchange(ref _checkpointing, 1) != 0)
        {
            return;
        }

        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _paused = paused;
        try
        {
            await CheckpointAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastCheckpoint, _time.GetTimestamp());
        }
        finally
        {
            _paused = null;
            paused.SetResult();
            Volatile.Write(ref _checkpointing, 0);
        }
    }

    private async ValueTask CheckpointAsync(CancellationToken cancellationToken)
    {
        CopyWatermark mark;
        lock (_lock)
        {
            mark = new CopyWatermark(_watermark, _sentBelowWatermark, _zeroedBelowWatermark);
            if (mark.Offset <= Volatile.Read(ref _savedWatermark))
            {
                // Nothing new below the watermark (its lowest piece is still in flight): the checkpoint stays due and is
                // taken as soon as the watermark moves, rather than waiting for another interval of work.
                return;
            }

            _doneAtCheckpoint = _done;
        }

        // Everything below the watermark has been acknowledged; the flush makes it durable before the checkpoint claims it.
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await SaveCheckpoint!(mark, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _savedWatermark, mark.Offset);
        Report(force: true, checkpoint: true);
    }

    private ValueTask FlushAsync(CancellationToken cancellationToken) =>
        _retry.ExecuteAsync(static (sink, ct) => sink.FlushAsync(ct), _sink, _flushWhat, cancellationToken);

    private void Report(bool force, bool checkpoint)
    {
        if (Progress is not { } progress)
        {
            return;
        }

        long now = _time.GetTimestamp();
        long last = Volatile.Read(ref _lastReport);
        if (!force && (last != 0 && _time.GetElapsedTime(last, now) < _options.ProgressInterval || Interlocked.CompareExchange(ref _lastReport, now, last) != last))
        {
            return;
        }

        // Reports go out one at a time, each taken under the lock, so their counters never go backwards.
        lock (_reportLock)
        {
            Volatile.Write(ref _lastReport, now);
            long done;
            lock (_lock)
            {
                done = _done;
            }

            TimeSpan elapsed = _time.GetElapsedTime(_started, now);
            double rate = elapsed > TimeSpan.Zero ? (done - DoneBefore) / elapsed.TotalSeconds : 0;
            progress(new CopySnapshot(
                Total,
                done,
                Interlocked.Read(ref _read),
                Interlocked.Read(ref _sent),
                Interlocked.Read(ref _zeroed),
                Interlocked.Read(ref _requests),
                _retry.Retries,
                ResumeFrom,
                Volatile.Read(ref _savedWatermark),
                elapsed,
                rate,
                rate > 0 ? TimeSpan.FromSeconds((Total - done) / rate) : null,
                checkpoint));
        }
    }

    /// <summary>The work in ascending order: data ranges cut at multiples of the write size, zero ranges in pieces of at most 1 GiB.</summary>
    private IEnumerable<Piece> Pieces()
    {
        long chunk = _options.MaxWriteSize;
        foreach (CopyRange range in _ranges)
        {
            long position = Math.Max(range.Offset, ResumeFrom);
            while (position < range.End)
            {
                long length = range.KnownZero
                    ? Math.Min(MaxZeroRequest, range.End - position)
                    : Math.Min((position / chunk + 1) * chunk, range.End) - position;
                yield return new Piece(position, length, range.KnownZero);
                position += length;
            }
        }
    }

    /// <summary>
    /// A seed's (or a conversion's) work in ascending order from <paramref name="resumeFrom"/>: the source's allocated ranges (widened to
    /// whole sectors) as data, everything else in the ranges (holes, and past the source's end) as known zeros.
    /// </summary>
    internal static IEnumerable<CopyRange> SeedRanges(IVirtualDisk source, IReadOnlyList<DiskExtent> ranges, long resumeFrom)
    {
        const int Sector = 512;
        foreach (DiskExtent range in ranges)
        {
            long position = Math.Max(range.Offset, resumeFrom);
            if (position >= range.End)
            {
                continue;
            }

            long sourceEnd = Math.Min(range.End, source.VirtualSize);
            IEnumerable<DiskExtent> allocated = position < sourceEnd ? source.GetAllocatedExtents(position, sourceEnd - position) : [];
            foreach (DiskExtent extent in allocated)
            {
                long dataStart = Math.Max(position, extent.Offset / Sector * Sector);
                long dataEnd = Math.Min(sourceEnd, (extent.End + Sector - 1) / Sector * Sector);
                if (dataStart > position)
                {
                    yield return new CopyRange(position, dataStart - position, KnownZero: true);
                }

                position = Math.Max(position, dataStart);
                if (dataEnd > position)
                {
                    yield return new CopyRange(position, dataEnd - position, KnownZero: false);
                    position = dataEnd;
                }
            }

            if (position < range.End)
            {
                yield return new CopyRange(position, range.End - position, KnownZero: true);
            }
        }
    }

    /// <summary>Bytes of <paramref name="ranges"/> (disjoint) below <paramref name="offset"/>: what a run resumed there has already done (<see cref="DoneBefore"/>).</summary>
    internal static long BytesBelow(IEnumerable<DiskExtent> ranges, long offset)
    {
        long bytes = 0;
        foreach (DiskExtent r in ranges)
        {
            bytes += Math.Clamp(offset - r.Offset, 0, r.Length);
        }

        return bytes;
    }

    private static async Task AwaitQuietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Inspected below, where the most telling failure of all the tasks is chosen.
        }
    }

    /// <summary>Throws the failure that caused the stop: a real error beats the cancellations it caused in the other workers.</summary>
    private static void ThrowFirstFailure(CancellationToken cancellationToken, Task[] workers)
    {
        Exception? cancelled = null;
        foreach (Task task in workers)
        {
            if (task.Exception?.InnerException is { } ex)
            {
                if (ex is not OperationCanceledException)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
                }

                cancelled ??= ex;
            }
            else if (task.IsCanceled)
            {
                cancelled ??= new OperationCanceledException(cancellationToken);
            }
        }

        if (cancelled is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cancelled);
        }
    }

    private readonly record struct Piece(long Offset, long Length, bool KnownZero);

    /// <summary>A worker's piece in flight: its sequence number, and what it has sent and zeroed so far (the worker's alone until it completes).</summary>
    private sealed class Slot
    {
        public long Sequence { get; private set; }

        public long Sent { get; set; }

        public long Zeroed { get; set; }

        public void Start(long sequence)
        {
            Sequence = sequence;
            Sent = 0;
            Zeroed = 0;
        }
    }

    /// <summary>A piece taken and not yet below the watermark: where it ends, whether it is done, what it sent and zeroed.</summary>
    private struct PieceState
    {
        public long End;
        public long Sent;
        public long Zeroed;
        public bool Done;
    }
}

/// <summary>A range of the copy engine's work: read and written, or known to be zero on the source.</summary>
internal readonly record struct CopyRange(long Offset, long Length, bool KnownZero)
{
    public long End => Offset + Length;
}

/// <summary>How far a copy got: everything below <see cref="Offset"/> is durable, with what this run sent and zeroed below it.</summary>
internal readonly record struct CopyWatermark(long Offset, long BytesSent, long BytesZeroed);

/// <summary>A snapshot of a running copy, for the operation's own progress type.</summary>
internal readonly record struct CopySnapshot(
    long BytesTotal,
    long BytesDone,
    long BytesRead,
    long BytesSent,
    long BytesZeroed,
    long Requests,
    long Retries,
    long ResumedFrom,
    long CheckpointedUpTo,
    TimeSpan Elapsed,
    double BytesPerSecond,
    TimeSpan? EstimatedRemaining,
    bool IsCheckpoint);

/// <summary>Where the copy engine reads data ranges: a virtual disk, or the coalesced data of sealed logs.</summary>
internal interface ICopySource
{
    /// <summary>For messages.</summary>
    string Location { get; }

    /// <summary>Reads a range that lies inside the data ranges given to the engine.</summary>
    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);
}

/// <summary>A virtual disk as a copy source.</summary>
internal sealed class DiskCopySource(IVirtualDisk disk) : ICopySource
{
    public string Location => disk.FilePath ?? "source";

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) => disk.ReadAsync(offset, destination, cancellationToken);
}
