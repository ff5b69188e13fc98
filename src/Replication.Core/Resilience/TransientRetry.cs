namespace Replication.Core.Resilience;

/// <summary>
/// Runs one request with a per-attempt timeout and retries it while it fails transiently: a recoverable
/// <see cref="ReplicationException"/> or an attempt that timed out. Waits at least a Retry-After, otherwise exponential
/// back-off with full jitter. Anything else, and the last failure, is thrown.
/// </summary>
internal sealed class TransientRetry
{
    private readonly RequestRetryOptions _options;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private long _retries;

    public TransientRetry(RequestRetryOptions options, TimeSpan requestTimeout, TimeProvider timeProvider)
    {
        _options = options;
        _timeout = requestTimeout;
        _time = timeProvider;
    }

    /// <summary>Attempts that failed and were retried so far.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Called before each retry with the failure and the delay about to be waited (for tests and diagnostics).</summary>
    public Action<Exception, TimeSpan>? OnRetry { get; init; }

    public async ValueTask ExecuteAsync<TState>(Func<TState, CancellationToken, ValueTask> operation, TState state, string what, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            Exception failure;
            TimeSpan? retryAfter = null;
            // The attempt's deadline runs on the injected clock, as the back-off does.
            using (CancellationTokenSource? deadline = _timeout == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(_timeout, _time))
            using (CancellationTokenSource attemptToken = deadline is null
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
                : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token))
            {
                try
                {
                    await operation(state, attemptToken.Token).ConfigureAwait(false);
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
            OnRetry?.Invoke(failure, delay);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
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
