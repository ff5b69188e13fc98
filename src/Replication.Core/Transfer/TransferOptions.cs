using Replication.Core.IO;
using Replication.Core.Resilience;

namespace Replication.Core.Transfer;

/// <summary>
/// How a copy runs: parallelism, write size, zero detection, bandwidth, per-request timeout and retries, and how often it
/// checkpoints and reports progress. Immutable; <see cref="Validate"/> lists what is wrong, and every operation refuses
/// invalid options with an <see cref="ArgumentException"/> before it starts.
/// </summary>
public sealed record TransferOptions
{
    /// <summary>The largest write a page blob accepts in one request.</summary>
    public const int MaxWriteSizeLimit = 4 << 20;

    /// <summary>8 requests in flight, 4 MiB writes, 4 KiB zero detection, no bandwidth limit, 2 min per attempt, the default retries, checkpoints every 2 s, progress every 250 ms.</summary>
    public static TransferOptions Default { get; } = new();

    /// <summary>Requests in flight at once (1 to 64). Memory used is about this many times <see cref="MaxWriteSize"/>.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Largest single write and read, a multiple of 512 from 512 to 4 MiB; data ranges are cut at multiples of it.</summary>
    public int MaxWriteSize { get; init; } = MaxWriteSizeLimit;

    /// <summary>
    /// Granularity of zero detection, a power of two from 512 up to <see cref="MaxWriteSize"/>: every run of whole
    /// all-zero units is made zero by the destination (or skipped on a destination known to read as zero) instead of sent.
    /// </summary>
    public int ZeroDetectionUnit { get; init; } = 4096;

    /// <summary>
    /// Upper bound on payload bytes sent per second of the operation's clock, at least 4096, or null for none: over any
    /// time <c>t</c> at most <c>MaxBytesPerSecond × t</c> plus a burst of one <see cref="MaxWriteSize"/> (or a twentieth
    /// of a second's worth, when that is more) is sent.
    /// </summary>
    public long? MaxBytesPerSecond { get; init; }

    /// <summary>How long one attempt of one request may take before it counts as timed out and is retried; positive or infinite.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How failed requests are retried.</summary>
    public RequestRetryOptions Retry { get; init; } = RequestRetryOptions.Default;

    /// <summary>How often a checkpoint, when kept, is saved (after the destination is flushed); zero or more.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Shortest time between two progress reports; zero or more.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Range(MaxConcurrency, 1, 64, nameof(MaxConcurrency))
        .Range(MaxWriteSize, 512, MaxWriteSizeLimit, nameof(MaxWriteSize))
        .When(MaxWriteSize % 512 != 0, nameof(MaxWriteSize), "must be a multiple of 512")
        .Range(ZeroDetectionUnit, 512, MaxWriteSizeLimit, nameof(ZeroDetectionUnit))
        .When(!int.IsPow2(ZeroDetectionUnit), nameof(ZeroDetectionUnit), "must be a power of two")
        .When(MaxBytesPerSecond is < 4096, nameof(MaxBytesPerSecond), "must be at least 4096 or null")
        .Range(RequestTimeout, TimeSpan.FromTicks(1), TimeSpan.MaxValue, nameof(RequestTimeout), allowInfinite: true)
        .Nested(Retry?.Validate(), nameof(Retry))
        .Range(CheckpointInterval, TimeSpan.Zero, TimeSpan.MaxValue, nameof(CheckpointInterval))
        .Range(ProgressInterval, TimeSpan.Zero, TimeSpan.MaxValue, nameof(ProgressInterval))
        .Failures;
}
