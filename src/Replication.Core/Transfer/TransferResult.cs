namespace Replication.Core.Transfer;

/// <summary>What a copy did, counted for this run only (a resumed run counts what it did itself).</summary>
public sealed class TransferResult
{
    internal TransferResult()
    {
    }

    /// <summary>Bytes of the ranges copied (data and zeros), including any part a checkpoint let this run skip.</summary>
    public long BytesTotal { get; internal init; }

    /// <summary>Bytes read from the source.</summary>
    public long BytesRead { get; internal init; }

    /// <summary>Payload bytes written to the destination.</summary>
    public long BytesSent { get; internal init; }

    /// <summary>Bytes found or known to be zero: made zero by the destination (a hole, cleared pages) or skipped, instead of sent.</summary>
    public long BytesZeroed { get; internal init; }

    /// <summary>Write and zeroing requests completed (each counted once, however many attempts it took).</summary>
    public long Requests { get; internal init; }

    /// <summary>Attempts that failed transiently and were retried.</summary>
    public long Retries { get; internal init; }

    /// <summary>Offset a checkpoint let this run start from (0 when it started afresh).</summary>
    public long ResumedFrom { get; internal init; }

    /// <summary>Wall time of this run, on the operation's clock.</summary>
    public TimeSpan Elapsed { get; internal init; }
}
