using System.Runtime.CompilerServices;
using Replication.Core.ChangeTracking.Hrl;

namespace Replication.Core.ChangeTracking;

public sealed partial class TrackedDisk
{
    /// <inheritdoc />
    /// <remarks>
    /// Every write that returned before this call is durable, in the log and on the disk, when it returns. Group
    /// commit: a flush commits the log's pending batch (its metadata block), fsyncs the log, then flushes the disk;
    /// flushers arriving while one runs wait for it and share the next.
    /// </remarks>
    public void Flush() => FlushCoreAsync(useAsync: false, CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc cref="Flush"/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => FlushCoreAsync(useAsync: true, cancellationToken);

    // Pooled: a flush that waits for its fsync goes asynchronous, and must not allocate a box each time.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushCoreAsync(bool useAsync, CancellationToken cancellationToken)
    {
        long need;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);

            // Only a flush that starts after this call covers every write that returned before it.
            need = _flushesStarted + 1;
        }

        while (true)
        {
            Task? wait = null;
            long round = 0;
            HrlWriter? writer = null;
            lock (_gate)
            {
                if (_flushesCompleted >= need)
                {
                    return;
                }

                if (_flushRunning)
                {
                    wait = (_flushDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }
                else
                {
                    ObjectDisposedException.ThrowIf(_closed, this);
                    _flushRunning = true;
                    round = ++_flushesStarted;
                    writer = _writer;
                    if (writer is not null)
                    {
                        try
                        {
                            writer.Commit();
                        }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
                        {
                            LogFailedLocked(writer);
                            writer = null;
                        }
                    }
                }
            }

            if (wait is not null)
            {
                if (useAsync)
                {
                    await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    wait.GetAwaiter().GetResult();
                }

                continue;
            }

            await LeadFlushAsync(useAsync, writer, round, cancellationToken).ConfigureAwait(false);
            return;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask LeadFlushAsync(bool useAsync, HrlWriter? writer, long round, CancellationToken cancellationToken)
    {
        bool done = false;
        try
        {
            // The log's fsync and the disk's flush are independent: run them at the same time.
            if (writer is not null)
            {
                _logFsync.Start(writer);
            }

            Exception? diskFailure = null;
            try
            {
                if (useAsync)
                {
                    await _disk.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    _disk.Flush();
                }
            }
            catch (Exception ex)
            {
                diskFailure = ex;
            }

            if (writer is not null)
            {
                try
                {
                    if (useAsync)
                    {
                        await _logFsync.WaitAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        _logFsync.Wait();
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException or InvalidOperationException)
                {
                    // The fsync failed, or a writer's failed append or direct log write faulted the log or stopped tracking
                    // (disposing the log) meanwhile: either way the log is given up and recorded as failed; the disk's
                    // flush below still counts.
                    lock (_gate)
                    {
                        if (ReferenceEquals(_writer, writer))
                        {
                            LogFailedLocked(writer);
                        }
                    }
                }
            }

            if (diskFailure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(diskFailure);
            }

            PersistPending(PersistPoint.Flush);
            done = true;
        }
        finally
        {
            EndFlushRound(round, done);
        }
    }

    /// <summary>Becomes the flush leader (for a rotation or a close), waiting for a running flush to finish.</summary>
    /// <returns>The round this leadership completes.</returns>
    private async ValueTask<long> AcquireFlushLeadershipAsync(Action? swapUnderGate, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (!_flushRunning)
                {
                    _flushRunning = true;
                    long round = ++_flushesStarted;
                    swapUnderGate?.Invoke();
                    return round;
                }

                wait = (_flushDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void EndFlushRound(long round, bool done)
    {
        TaskCompletionSource? flushDone;
        lock (_gate)
        {
            _flushRunning = false;
            if (done)
            {
                _flushesCompleted = Math.Max(_flushesCompleted, round);
            }

            flushDone = _flushDone;
            _flushDone = null;
        }

        flushDone?.TrySetResult();
    }
}
