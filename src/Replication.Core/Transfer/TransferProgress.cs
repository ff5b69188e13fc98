namespace Replication.Core.Transfer;

/// <summary>A snapshot of a running copy (a log apply, a conversion). Counters cover this run.</summary>
public sealed class TransferProgress
{
    internal TransferProgress(in CopySnapshot snapshot)
    {
        BytesTotal = snapshot.BytesTotal;
        BytesDone = snapshot.BytesDone;
        BytesRead = snapshot.BytesRead;
        BytesSent = snapshot.BytesSent;
        BytesZeroed = snapshot.BytesZeroed;
        Requests = snapshot.Requests;
        Retries = snapshot.Retries;
        ResumedFrom = snapshot.ResumedFrom;
        CheckpointedUpTo = snapshot.CheckpointedUpTo;
        Elapsed = snapshot.Elapsed;
        BytesPerSecond = snapshot.BytesPerSecond;
        EstimatedRemaining = snapshot.EstimatedRemaining;
        IsCheckpoint = snapshot.IsCheckpoint;
    }

    /// <summary>Bytes of the ranges to copy.</summary>
    public long BytesTotal { get; }

    /// <summary>Bytes of the ranges handled so far (sent, zeroed or skipped), including any resumed part.</summary>
    public long BytesDone { get; }

    /// <summary>Bytes read from the source by this run.</summary>
    public long BytesRead { get; }

    /// <summary>Payload bytes written to the destination by this run.</summary>
    public long BytesSent { get; }

    /// <summary>Bytes found or known to be zero by this run, made zero or skipped instead of sent.</summary>
    public long BytesZeroed { get; }

    /// <summary>Write and zeroing requests completed by this run.</summary>
    public long Requests { get; }

    /// <summary>Attempts that failed transiently and were retried.</summary>
    public long Retries { get; }

    /// <summary>Offset this run resumed from (0 when it started afresh).</summary>
    public long ResumedFrom { get; }

    /// <summary>Offset below which the durable checkpoint says everything is done.</summary>
    public long CheckpointedUpTo { get; }

    /// <summary>Time since this run started.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Bytes handled per second by this run so far.</summary>
    public double BytesPerSecond { get; }

    /// <summary>Time left at that rate, or null before there is a rate.</summary>
    public TimeSpan? EstimatedRemaining { get; }

    /// <summary>True when this report follows a durable checkpoint.</summary>
    public bool IsCheckpoint { get; }
}
