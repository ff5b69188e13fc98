namespace Replication.Core.Transfer;

/// <summary>A snapshot of a running transfer.</summary>
/// <param name="BytesTotal">Bytes of the ranges to transfer.</param>
/// <param name="BytesDone">Bytes of the ranges handled so far (sent, cleared or skipped), including any resumed part.</param>
/// <param name="BytesRead">Bytes read from the source by this run.</param>
/// <param name="BytesSent">Payload bytes written to the destination by this run.</param>
/// <param name="BytesSkippedZero">Bytes found or known to be zero by this run, cleared or skipped instead of sent.</param>
/// <param name="Requests">Write and clear requests completed by this run.</param>
/// <param name="Retries">Attempts that failed transiently and were retried.</param>
/// <param name="ResumedFrom">Offset this run resumed from (0 when it started afresh).</param>
/// <param name="CheckpointedUpTo">Offset below which the durable checkpoint says everything is done.</param>
/// <param name="Elapsed">Time since this run started.</param>
/// <param name="BytesPerSecond">Bytes handled per second by this run so far.</param>
/// <param name="EstimatedRemaining">Time left at that rate, or null before there is a rate.</param>
public readonly record struct TransferProgress(
    long BytesTotal,
    long BytesDone,
    long BytesRead,
    long BytesSent,
    long BytesSkippedZero,
    long Requests,
    long Retries,
    long ResumedFrom,
    long CheckpointedUpTo,
    TimeSpan Elapsed,
    double BytesPerSecond,
    TimeSpan? EstimatedRemaining);
