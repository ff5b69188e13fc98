namespace Replication.Core.Transfer;

/// <summary>What a transfer did, counted for this run only (a resumed run counts what it did itself).</summary>
/// <param name="BytesTotal">Bytes of the ranges transferred.</param>
/// <param name="BytesRead">Bytes read from the source.</param>
/// <param name="BytesSent">Payload bytes written to the destination.</param>
/// <param name="BytesSkippedZero">Bytes found or known to be zero, cleared or skipped instead of sent.</param>
/// <param name="Requests">Write and clear requests completed (each counted once, however many attempts it took).</param>
/// <param name="Retries">Attempts that failed transiently and were retried.</param>
/// <param name="ResumedFrom">Offset a checkpoint let this run start from (0 when it started afresh).</param>
/// <param name="Elapsed">Wall time of this run.</param>
public sealed record TransferResult(
    long BytesTotal,
    long BytesRead,
    long BytesSent,
    long BytesSkippedZero,
    long Requests,
    long Retries,
    long ResumedFrom,
    TimeSpan Elapsed);
