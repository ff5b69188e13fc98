namespace Replication.Core.Transfer;

/// <summary>
/// Caps the payload bytes a transfer sends per second, on the transfer's <see cref="TimeProvider"/>: a token bucket of
/// at most <c>burst</c> bytes, refilled at <c>bytesPerSecond</c> as that clock moves. A request takes its bytes at
/// once, going into debt when the bucket holds fewer, and waits on the clock until the debt is repaid; a later request
/// waits behind it. So over any time <c>t</c> at most <c>burst + bytesPerSecond × t</c> bytes are granted, and requests
/// are granted in the order they asked.
/// </summary>
/// <remarks>
/// System.Threading.RateLimiting's <c>TokenBucketRateLimiter</c> measures elapsed time with <c>Stopwatch</c> even when it
/// is replenished by hand (<c>AutoReplenishment = false</c>, <c>TryReplenish</c>), so it cannot follow an injected clock.
/// </remarks>
internal sealed class BandwidthLimiter
{
    private readonly TimeProvider _time;
    private readonly double _bytesPerSecond;
    private readonly double _burst;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _stamp;

    /// <summary>Creates a limiter whose bucket starts full.</summary>
    /// <param name="bytesPerSecond">Refill rate; positive.</param>
    /// <param name="burst">Bucket size: the most granted at once after an idle spell; positive.</param>
    /// <param name="timeProvider">The clock refill and waits follow.</param>
    public BandwidthLimiter(long bytesPerSecond, long burst, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _bytesPerSecond = bytesPerSecond;
        _burst = burst;
        _time = timeProvider;
        _tokens = burst;
        _stamp = timeProvider.GetTimestamp();
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> from the bucket; completes at once when it held them, otherwise when the clock
    /// has refilled what was missing (and what earlier requests still owe). Cancelling stops the wait; the bytes stay
    /// taken, as a cancelled transfer sends nothing more.
    /// </summary>
    public ValueTask AcquireAsync(int bytes, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_stamp, now).TotalSeconds * _bytesPerSecond));
            _stamp = now;
            _tokens -= bytes;
            if (_tokens >= 0)
            {
                return ValueTask.CompletedTask;
            }

            // Rounded up to a whole millisecond, the resolution of timers, so the waiter never wakes before its bytes
            // are covered.
            wait = TimeSpan.FromMilliseconds(Math.Ceiling(-_tokens * 1000 / _bytesPerSecond));
        }

        return new ValueTask(Task.Delay(wait, _time, cancellationToken));
    }
}
