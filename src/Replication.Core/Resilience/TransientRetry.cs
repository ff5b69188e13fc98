using System.Runtime.CompilerServices;

namespace Replication.Core.Resilience;

/// <summary>
/// Runs one request with a per-attempt timeout and retries it while it fails transiently: a recoverable
/// <see cref="ReplicationException"/> or an attempt that timed out. Waits at least a Retry-After, otherwise exponential
/// back-off with full jitter. Anything else, and the last failure, is thrown.
/// </summary>
internal sealed class TransientRetry
{
    /// <summary>Attempt sources kept for reuse: enough for the most requests one engine has in flight.</summary>
    private const int MaxIdleSources = 64;

    private readonly RequestRetryOptions _options;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly Stack<CancellationTokenSource> _idle = new();
    private long _retries;

    public TransientRetry(RequestRetryOptions options, TimeSpan requestTimeout, TimeProvider timeProvider)
    {
        _options = options;
        _timeout = requestTimeout;
        _time = timeProvider;
    }

    /// <summary>Attempts that failed and were retried so far.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <remarks>
    /// Steady state allocates nothing: the state machine is pooled, and each attempt's token comes from a pool of
    /// deadline sources that are reset and reused (a source whose deadline fired, or that was cancelled, is dropped).
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExecuteAsync<TState>(Func<TState, CancellationToken, ValueTask> operation, TState state, string what, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            Exception failure;
            TimeSpan? retryAfter = null;
            // The attempt's deadline runs on the injected clock, as the back-off does; the caller's cancellation reaches
            // the attempt's token through a registration (no linked source to allocate).
            CancellationTokenSource? attemptSource = _timeout == Timeout.InfiniteTimeSpan ? null : RentAttemptSource();
            CancellationToken attemptToken = attemptSource?.Token ?? cancellationToken;
            CancellationTokenRegistration link = attemptSource is null
                ? default
                : cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), attemptSource);
            try
            {
                await operation(state, attemptToken).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && attemptToken.IsCancellationRequested)
            {
                failure = new ReplicaTargetException(
                    ReplicationErrorCode.TargetUnavailable, true, $"{what}: no answer within {_timeout.TotalSeconds:0.###} s.", innerException: ex);
            }
            catch (ReplicationException ex) when (ex.IsRecoverable && !cancellationToken.IsCancellationRequested)
            {
                failure = ex;
                retryAfter = (ex as ReplicaTargetException)?.RetryAfter;
            }
            finally
            {
                if (attemptSource is not null)
                {
                    // Disposing the registration waits for a cancellation callback in progress, so the reset below sees it.
                    link.Dispose();
                    ReturnAttemptSource(attemptSource);
                }
            }

            if (attempt >= _options.MaxAttempts)
            {
                var last = (ReplicationException)failure;
                throw new ReplicaTargetException(
                    last.Code,
                    true,
                    $"{what}: gave up after {attempt} attempts: {last.Message}",
                    (last as ReplicaTargetException)?.Status ?? 0,
                    (last as ReplicaTargetException)?.ServiceErrorCode,
                    retryAfter,
                    last);
            }

            TimeSpan delay = Delay(attempt, retryAfter);
            Interlocked.Increment(ref _retries);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A source whose deadline is <see cref="_timeout"/> from now on the injected clock.</summary>
    private CancellationTokenSource RentAttemptSource()
    {
        CancellationTokenSource? source = null;
        lock (_idle)
        {
            _idle.TryPop(out source);
        }

        if (source is { IsCancellationRequested: true })
        {
            // Its deadline fired as it was being reset.
            source.Dispose();
            source = null;
        }

        // Created with an idle timer of the injected clock; CancelAfter arms it (and re-arms it on reuse).
        source ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        source.CancelAfter(_timeout);
        return source;
    }

    /// <summary>Keeps a source that was neither cancelled nor timed out (its timer disarmed) for the next attempt.</summary>
    private void ReturnAttemptSource(CancellationTokenSource source)
    {
        if (!source.TryReset())
        {
            source.Dispose();
            return;
        }

        lock (_idle)
        {
            if (_idle.Count < MaxIdleSources)
            {
                _idle.Push(source);
                return;
            }
        }

        source.Dispose();
    }

    private TimeSpan Delay(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
        {
            return asked < _options.MaxRetryAfter ? asked : _options.MaxRetryAfter;
        }

        double ceiling = Math.Min(_options.MaxDelay.TotalMilliseconds, _options.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}
