using Replication.Core.IO;

namespace Replication.Core.Resilience;

/// <summary>
/// How a failed request is retried: only failures that can pass (a recoverable <see cref="ReplicationException"/> or a
/// request that timed out), at most <see cref="MaxAttempts"/> times, with exponential back-off and full jitter, waiting
/// at least what a Retry-After answer asked for. Immutable; <see cref="Validate"/> lists what is wrong.
/// </summary>
public sealed record RequestRetryOptions
{
    /// <summary>8 attempts, 200 ms base delay, 30 s longest back-off, Retry-After honoured up to 5 minutes.</summary>
    public static RequestRetryOptions Default { get; } = new();

    /// <summary>Attempts per request, the first included (1 = never retry), up to 100.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>Back-off before the first retry; doubled for each further one; zero or more.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest back-off between two attempts; zero or more.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest Retry-After that is honoured; a longer one waits this long; zero or more.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Range(MaxAttempts, 1, 100, nameof(MaxAttempts))
        .Range(BaseDelay, TimeSpan.Zero, TimeSpan.MaxValue, nameof(BaseDelay))
        .Range(MaxDelay, TimeSpan.Zero, TimeSpan.MaxValue, nameof(MaxDelay))
        .Range(MaxRetryAfter, TimeSpan.Zero, TimeSpan.MaxValue, nameof(MaxRetryAfter))
        .Failures;
}
