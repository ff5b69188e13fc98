namespace Replication.Core.Transfer;

/// <summary>How a transfer runs: parallelism, write size, zero detection, bandwidth, retries, checkpoint, progress. Immutable; validated when set.</summary>
public sealed record TransferOptions
{
    /// <summary>The largest write a page blob accepts in one request.</summary>
    public const int MaxWriteSizeLimit = 4 << 20;

    /// <summary>8 requests in flight, 4 MiB writes, 4 KiB zero detection, no bandwidth limit, no checkpoint.</summary>
    public static TransferOptions Default { get; } = new();

    /// <summary>Requests in flight at once (1 to 64). Memory used is about this many times <see cref="MaxWriteSize"/>.</summary>
    public int MaxConcurrency
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 64);
            field = value;
        }
    } = 8;

    /// <summary>Largest single write and read, a multiple of 512 up to 4 MiB.</summary>
    public int MaxWriteSize
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 512);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWriteSizeLimit);
            if (value % 512 != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The write size must be a multiple of 512.");
            }

            field = value;
        }
    } = MaxWriteSizeLimit;

    /// <summary>
    /// Granularity of zero detection, a power of two from 512 up to <see cref="MaxWriteSize"/>: every run of whole
    /// all-zero units is cleared (or skipped on a destination known to read as zero) instead of sent.
    /// </summary>
    public int ZeroDetectionUnit
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 512);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWriteSizeLimit);
            if (!int.IsPow2(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The zero detection unit must be a power of two.");
            }

            field = value;
        }
    } = 4096;

    /// <summary>
    /// True when every byte of the destination reads as zero before the transfer (a replica or file created for it):
    /// zero runs are then skipped without a request. False clears them, which is always correct.
    /// </summary>
    public bool DestinationKnownZero { get; init; }

    /// <summary>
    /// Upper bound on payload bytes sent per second of <see cref="TimeProvider"/>, or null for none: over any time
    /// <c>t</c> at most <c>MaxBytesPerSecond × t</c> plus a burst of one <see cref="MaxWriteSize"/> (or a twentieth of a
    /// second's worth, when that is more) is sent.
    /// </summary>
    public long? MaxBytesPerSecond
    {
        get;
        init
        {
            if (value is { } v)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(v, 4096);
            }

            field = value;
        }
    }

    /// <summary>How long one attempt of one request may take before it counts as timed out and is retried.</summary>
    public TimeSpan RequestTimeout
    {
        get;
        init
        {
            if (value != Timeout.InfiniteTimeSpan)
            {
                ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            }

            field = value;
        }
    } = TimeSpan.FromMinutes(2);

    /// <summary>How failed requests are retried.</summary>
    public TransferRetryOptions Retry
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TransferRetryOptions.Default;

    /// <summary>
    /// A file that records, durably, how far the transfer got, so a restarted transfer of the same source, ranges and
    /// destination resumes there. Deleted when the transfer completes. Null for no checkpoint.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Keep the checkpoint when the transfer completes, marked complete (a rerun of the same transfer then sends
    /// nothing), instead of deleting it: for a caller that records the completion somewhere of its own first, and then
    /// deletes the checkpoint, so that a crash between the two never sends the transfer again.
    /// </summary>
    public bool KeepCompletedCheckpoint { get; init; }

    /// <summary>How often the checkpoint is saved (after the destination is flushed).</summary>
    public TimeSpan CheckpointInterval
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromSeconds(2);

    /// <summary>Receives progress reports, at most every <see cref="ProgressInterval"/> and once at the end.</summary>
    public IProgress<TransferProgress>? Progress { get; init; }

    /// <summary>Shortest time between two progress reports.</summary>
    public TimeSpan ProgressInterval
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromMilliseconds(250);

    /// <summary>The clock for the bandwidth limit, request deadlines, back-off, checkpoint, progress and fence renewal timing.</summary>
    public TimeProvider TimeProvider
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TimeProvider.System;
}
