namespace Replication.Core.Transfer;

/// <summary>
/// How a failed request is retried: only failures that can pass (a recoverable <see cref="ReplicationException"/> or a
/// request that timed out), at most <see cref="MaxAttempts"/> times, with exponential back-off and full jitter, waiting
/// at least what a Retry-After answer asked for. Immutable; validated when set.
/// </summary>
public sealed record TransferRetryOptions
{
    /// <summary>8 attempts, 200 ms base delay, 30 s longest back-off, Retry-After honoured up to 5 minutes.</summary>
    public static TransferRetryOptions Default { get; } = new();

    /// <summary>Attempts per request, the first included (1 = never retry).</summary>
    public int MaxAttempts
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 100);
            field = value;
        }
    } = 8;

    /// <summary>Back-off before the first retry; doubled for each further one.</summary>
    public TimeSpan BaseDelay
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest back-off between two attempts.</summary>
    public TimeSpan MaxDelay
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromSeconds(30);

    /// <summary>The longest Retry-After that is honoured; a longer one waits this long.</summary>
    public TimeSpan MaxRetryAfter
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromMinutes(5);
}
