using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Replication.Core.Disks;
using Replication.Core.IO;
using Replication.Core.Targets;

namespace Replication.Core.Transfer;

/// <summary>
/// One run of the transfer pipeline. Work items (reads of at most <see cref="TransferOptions.MaxWriteSize"/> on
/// aligned boundaries, or ranges the source knows are zero) are handed out in ascending order to
/// <see cref="TransferOptions.MaxConcurrency"/> workers, each owning one pooled buffer. The watermark is the end of the
/// longest completed prefix of items; the checkpoint saves it after a flush, so it never claims what is not durable.
/// </summary>
internal sealed class TransferEngine
{
    /// <summary>Largest single clear of a range the source knows is zero.</summary>
    private const long MaxZeroRequest = 1L << 30;

    private readonly IVirtualDisk _source;
    private readonly ITransferSink _sink;
    private readonly IReplicaWriter? _writer;
    private readonly IReadOnlyList<DiskExtent> _ranges;
    private readonly TransferOptions _options;
    private readonly TimeProvider _time;
    private readonly TransientRetry _retry;
    private readonly string _readWhat;
    private readonly string _writeWhat;
    private readonly long _total;
    private readonly object _lock = new();
    private readonly Queue<Slot> _inFlight = new();

    private IEnumerator<WorkItem>? _items;
    private bool _knownZero;
    private long _resumedFrom;
    private long _watermark;
    private long _savedWatermark;
    private long _read;
    private long _sent;
    private long _skipped;
    private long _requests;
    private long _done;
    private long _doneAtStart;
    private long _started;
    private long _lastCheckpoint;
    private long _lastReport;
    private int _checkpointing;
    private UInt128 _jobKey;
    private BandwidthLimiter? _limiter;

    public TransferEngine(IVirtualDisk source, ITransferSink sink, IReplicaWriter? writer, IReadOnlyList<DiskExtent> ranges, TransferOptions options)
    {
        _source = source;
        _sink = sink;
        _writer = writer;
        _ranges = ranges;
        _options = options;
        _time = options.TimeProvider;
        _retry = new TransientRetry(options.Retry, options.RequestTimeout, _time);
        _readWhat = $"read from {source.FilePath ?? "source"}";
        _writeWhat = $"write to {sink.Location}";
        foreach (DiskExtent r in ranges)
        {
            _total += r.Length;
        }
    }

    public async Task<TransferResult> RunAsync(CancellationToken cancellationToken)
    {
        _started = _time.GetTimestamp();
        _jobKey = JobKey();
        _knownZero = _options.DestinationKnownZero;
        if (_options.CheckpointPath is { } path)
        {
            if (TransferCheckpoint.Load(path) is { } checkpoint && checkpoint.JobKey == _jobKey && checkpoint.BytesTotal == _total)
            {
                _resumedFrom = checkpoint.Watermark;
                _knownZero = checkpoint.DestinationKnownZero;
            }
            else
            {
                // Recorded before any write, so a run killed before its first checkpoint still resumes with the
                // knowledge of whether the destination started out as zeros.
                await new TransferCheckpoint(_jobKey, _knownZero, 0, _total).SaveAsync(path, cancellationToken).ConfigureAwait(false);
            }
        }

        _watermark = _savedWatermark = _resumedFrom;
        _done = _doneAtStart = BytesBelow(_resumedFrom);
        _items = Items().GetEnumerator();
        if (_options.MaxBytesPerSecond is { } rate)
        {
            // A burst of one write, or a twentieth of a second's worth when that is more.
            _limiter = new BandwidthLimiter(rate, Math.Max(_options.MaxWriteSize, rate / 20), _time);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var renewStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        try
        {
            var workers = new Task[_options.MaxConcurrency];
            for (int i = 0; i < workers.Length; i++)
            {
                workers[i] = Task.Run(() => WorkerAsync(stop), CancellationToken.None);
            }

            Task renewal = _writer?.FenceExpiresAt is not null ? RenewLoopAsync(stop, renewStop.Token) : Task.CompletedTask;
            Task all = Task.WhenAll(workers);
            await Task.WhenAny(all, renewal).ConfigureAwait(false);
            if (renewal.IsFaulted)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            await AwaitQuietly(all).ConfigureAwait(false);
            await renewStop.CancelAsync().ConfigureAwait(false);
            await AwaitQuietly(renewal).ConfigureAwait(false);
            ThrowFirstFailure(cancellationToken, renewal, workers);

            await _retry.ExecuteAsync(static (sink, ct) => sink.FlushAsync(ct), _sink, $"flush {_sink.Location}", cancellationToken).ConfigureAwait(false);
            if (_options.CheckpointPath is { } done)
            {
                DurableFile.Delete(done);
            }

            Report(force: true);
            return new TransferResult(_total, _read, _sent, _skipped, _requests, _retry.Retries, _resumedFrom, _time.GetElapsedTime(_started));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && _options.CheckpointPath is not null)
        {
            // Interrupted on purpose: make what is done durable and say so, so the next run resumes here.
            await SaveCheckpointAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        finally
        {
            _items.Dispose();
        }
    }

    private async Task WorkerAsync(CancellationTokenSource stop)
    {
        CancellationToken cancellationToken = stop.Token;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.MaxWriteSize);
        try
        {
            while (TryTake(out WorkItem item, out Slot? slot))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (item.KnownZero)
                {
                    await ZeroAsync(item.Offset, item.Length, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await CopyAsync(item, buffer, cancellationToken).ConfigureAwait(false);
                }

                Complete(slot, item.Length);
                await MaybeCheckpointAsync(cancellationToken).ConfigureAwait(false);
                Report(force: false);
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

    private async ValueTask CopyAsync(WorkItem item, byte[] buffer, CancellationToken cancellationToken)
    {
        int length = (int)item.Length;
        Memory<byte> data = buffer.AsMemory(0, length);
        await _retry.ExecuteAsync(
            static (s, ct) => s.Source.ReadAsync(s.Offset, s.Data, ct),
            (Source: _source, item.Offset, Data: data),
            _readWhat,
            cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _read, length);

        int unit = _options.ZeroDetectionUnit;
        for (int position = 0; position < length;)
        {
            int end = ZeroScanner.NextRun(data.Span, position, unit, out bool isZero);
            if (isZero)
            {
                await ZeroAsync(item.Offset + position, end - position, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SendAsync(item.Offset + position, data[position..end], cancellationToken).ConfigureAwait(false);
            }

            position = end;
        }
    }

    private async ValueTask SendAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
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
    }

    private async ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken)
    {
        if (!_knownZero)
        {
            await _retry.ExecuteAsync(
                static (s, ct) => s.Sink.ZeroAsync(s.Offset, s.Length, ct),
                (Sink: _sink, Offset: offset, Length: length),
                _writeWhat,
                cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _requests);
        }

        Interlocked.Add(ref _skipped, length);
    }

    private bool TryTake(out WorkItem item, out Slot? slot)
    {
        lock (_lock)
        {
            if (_items!.MoveNext())
            {
                item = _items.Current;
                slot = new Slot(item.Offset + item.Length);
                _inFlight.Enqueue(slot);
                return true;
            }
        }

        item = default;
        slot = null;
        return false;
    }

    private void Complete(Slot? slot, long length)
    {
        lock (_lock)
        {
            slot!.Done = true;
            while (_inFlight.TryPeek(out Slot? first) && first.Done)
            {
                _inFlight.Dequeue();
                _watermark = first.End;
            }

            _done += length;
        }
    }

    private async ValueTask MaybeCheckpointAsync(CancellationToken cancellationToken)
    {
        if (_options.CheckpointPath is null || _time.GetElapsedTime(Volatile.Read(ref _lastCheckpoint) == 0 ? _started : _lastCheckpoint) < _options.CheckpointInterval)
        {
            return;
        }

        if (Interlocked.Exchange(ref _checkpointing, 1) != 0)
        {
            return;
        }

        try
        {
            await SaveCheckpointAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastCheckpoint, _time.GetTimestamp());
        }
        finally
        {
            Volatile.Write(ref _checkpointing, 0);
        }
    }

    private async ValueTask SaveCheckpointAsync(CancellationToken cancellationToken)
    {
        long watermark;
        lock (_lock)
        {
            watermark = _watermark;
        }

        if (watermark <= Volatile.Read(ref _savedWatermark))
        {
            return;
        }

        // Everything below the watermark has been acknowledged; the flush makes it durable before the checkpoint claims it.
        await _retry.ExecuteAsync(static (sink, ct) => sink.FlushAsync(ct), _sink, $"flush {_sink.Location}", cancellationToken).ConfigureAwait(false);
        await new TransferCheckpoint(_jobKey, _knownZero, watermark, _total).SaveAsync(_options.CheckpointPath!, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _savedWatermark, watermark);
    }

    private async Task RenewLoopAsync(CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        try
        {
            while (_writer!.FenceExpiresAt is { } expires)
            {
                TimeSpan left = expires - _time.GetUtcNow();
                TimeSpan wait = left / 2 > TimeSpan.FromMilliseconds(100) ? left / 2 : TimeSpan.FromMilliseconds(100);
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                await _retry.ExecuteAsync(static (w, ct) => w.RenewAsync(ct), _writer, $"renew the fence of {_writer.Location}", cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The transfer ended (or failed): renewal stops with it.
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Report(bool force)
    {
        if (_options.Progress is not { } progress)
        {
            return;
        }

        long now = _time.GetTimestamp();
        long last = Volatile.Read(ref _lastReport);
        if (!force && (last != 0 && _time.GetElapsedTime(last, now) < _options.ProgressInterval || Interlocked.CompareExchange(ref _lastReport, now, last) != last))
        {
            return;
        }

        Volatile.Write(ref _lastReport, now);
        long done;
        lock (_lock)
        {
            done = _done;
        }

        TimeSpan elapsed = _time.GetElapsedTime(_started, now);
        double rate = elapsed > TimeSpan.Zero ? (done - _doneAtStart) / elapsed.TotalSeconds : 0;
        TimeSpan? eta = rate > 0 ? TimeSpan.FromSeconds((_total - done) / rate) : null;
        progress.Report(new TransferProgress(
            _total, done, Interlocked.Read(ref _read), Interlocked.Read(ref _sent), Interlocked.Read(ref _skipped), Interlocked.Read(ref _requests),
            _retry.Retries, _resumedFrom, Volatile.Read(ref _savedWatermark), elapsed, rate, eta));
    }

    /// <summary>The work, in ascending order: aligned reads of allocated data, and ranges the source knows are zero.</summary>
    private IEnumerable<WorkItem> Items()
    {
        long chunk = _options.MaxWriteSize;
        foreach (DiskExtent range in _ranges)
        {
            long start = Math.Max(range.Offset, _resumedFrom);
            if (start >= range.End)
            {
                continue;
            }

            long position = start;
            long sourceEnd = Math.Min(range.End, _source.VirtualSize);
            IEnumerable<DiskExtent> allocated = position < sourceEnd ? _source.GetAllocatedExtents(position, sourceEnd - position) : [];
            foreach (DiskExtent extent in allocated)
            {
                long dataStart = Math.Max(position, extent.Offset / ReplicaRequests.SectorSize * ReplicaRequests.SectorSize);
                long dataEnd = Math.Min(sourceEnd, (extent.End + ReplicaRequests.SectorSize - 1) / ReplicaRequests.SectorSize * ReplicaRequests.SectorSize);
                for (; position < dataStart; position += Math.Min(MaxZeroRequest, dataStart - position))
                {
                    yield return new WorkItem(position, Math.Min(MaxZeroRequest, dataStart - position), KnownZero: true);
                }

                for (position = Math.Max(position, dataStart); position < dataEnd;)
                {
                    long boundary = (position / chunk + 1) * chunk;
                    long length = Math.Min(boundary, dataEnd) - position;
                    yield return new WorkItem(position, length, KnownZero: false);
                    position += length;
                }
            }

            for (; position < range.End; position += Math.Min(MaxZeroRequest, range.End - position))
            {
                yield return new WorkItem(position, Math.Min(MaxZeroRequest, range.End - position), KnownZero: true);
            }
        }
    }

    private long BytesBelow(long offset)
    {
        long bytes = 0;
        foreach (DiskExtent r in _ranges)
        {
            bytes += Math.Clamp(offset - r.Offset, 0, r.Length);
        }

        return bytes;
    }

    /// <summary>Identifies this job, so a checkpoint is only resumed by the same source, ranges and destination.</summary>
    private UInt128 JobKey()
    {
        var hash = new XxHash128();
        void Add(long value)
        {
            Span<byte> number = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(number, value);
            hash.Append(number);
        }

        hash.Append("repl-transfer/1"u8);
        hash.Append(Encoding.UTF8.GetBytes(_source.FilePath ?? ""));
        Add(_source.VirtualSize);
        hash.Append(Encoding.UTF8.GetBytes(_sink.Location));
        Add(_sink.Size);
        foreach (DiskExtent r in _ranges)
        {
            Add(r.Offset);
            Add(r.Length);
        }

        return hash.GetCurrentHashAsUInt128();
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
    private static void ThrowFirstFailure(CancellationToken cancellationToken, Task renewal, Task[] workers)
    {
        Exception? cancelled = null;
        foreach (Task task in workers.Prepend(renewal))
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

    private readonly record struct WorkItem(long Offset, long Length, bool KnownZero);

    private sealed class Slot(long end)
    {
        public long End { get; } = end;

        public bool Done { get; set; }
    }
}
