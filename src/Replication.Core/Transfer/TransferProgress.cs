namespace Replication.Core.Transfer;

/// <summary>A snapshot of a running copy (a log apply, a conversion). Counters cover this run.</summary>
public sealed class TransferProgress
{
    private readonly CopySnapshot _snapshot;

    internal TransferProgress(in CopySnapshot snapshot) => _snapshot = snapshot;

    /// <summary>Bytes of the ranges to copy.</summary>
    public long BytesTotal => _snapshot.BytesTotal;

    /// <summary>Bytes of the ranges handled so far (sent, zeroed or skipped), including any resumed part.</summary>
    public long BytesDone => _snapshot.BytesDone;

    /// <summary>Bytes read from the source by this run.</summary>
    public long BytesRead => _snapshot.BytesRead;

    /// <summary>Payload bytes written to the destination by this run.</summary>
    public long BytesSent => _snapshot.BytesSent;

    /// <summary>Bytes found or known to be zero by this run, made zero or skipped instead of sent.</summary>
    public long BytesZeroed => _snapshot.BytesZeroed;

    /// <summary>Write and zeroing requests completed by this run.</summary>
    public long Requests => _snapshot.Requests;

    /// <summary>Attempts that failed transiently and were retried.</summary>
    public long Retries => _snapshot.Retries;

    /// <summary>Offset this run resumed from (0 when it started afresh).</summary>
    public long ResumedFrom => _snapshot.ResumedFrom;

    /// <summary>Offset below which the durable checkpoint says everything is done.</summary>
    public long CheckpointedUpTo => _snapshot.CheckpointedUpTo;

    /// <summary>Time since this run started.</summary>
    public TimeSpan Elapsed => _snapshot.Elapsed;

    /// <summary>Bytes handled per second by this run so far.</summary>
    public double BytesPerSecond => _snapshot.BytesPerSecond;

    /// <summary>Time left at that rate, or null before there is a rate.</summary>
    public TimeSpan? EstimatedRemaining => _snapshot.EstimatedRemaining;

    /// <summary>True when this report follows a durable checkpoint.</summary>
    public bool IsCheckpoint => _snapshot.IsCheckpoint;
}
