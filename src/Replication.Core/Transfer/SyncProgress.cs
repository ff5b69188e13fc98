namespace Replication.Core.Transfer;

/// <summary>A snapshot of a running seed or resync. Counters cover this run only.</summary>
public sealed class SyncProgress
{
    internal SyncProgress()
    {
    }

    /// <summary>What the operation is doing.</summary>
    public SyncPhase Phase { get; internal init; }

    /// <summary>Bytes read and hashed from either side so far.</summary>
    public long BytesHashed { get; internal init; }

    /// <summary>Bytes compared so far.</summary>
    public long BytesCompared { get; internal init; }

    /// <summary>Bytes found to differ (known once comparing is done; every byte of the ranges for a full seed).</summary>
    public long BytesDiffering { get; internal init; }

    /// <summary>Bytes this run has to copy (known once comparing is done).</summary>
    public long BytesToCopy { get; internal init; }

    /// <summary>Bytes copied so far (data, zeros and skipped zeros), including any part a checkpoint let this run skip.</summary>
    public long BytesCopied { get; internal init; }

    /// <summary>Data bytes sent by this run so far.</summary>
    public long BytesSent { get; internal init; }

    /// <summary>Bytes made zero or skipped as zero by this run so far.</summary>
    public long BytesZeroed { get; internal init; }

    /// <summary>Bytes copied per second by this run's copy so far.</summary>
    public double BytesPerSecond { get; internal init; }

    /// <summary>Offset the copy resumed from (0 when it started afresh).</summary>
    public long ResumedFrom { get; internal init; }

    /// <summary>Offset below which the durable checkpoint says the copy is done.</summary>
    public long CheckpointedUpTo { get; internal init; }

    /// <summary>Time since the run started.</summary>
    public TimeSpan Elapsed { get; internal init; }

    /// <summary>A linear estimate of the time left from the rate so far; null until there is a rate.</summary>
    public TimeSpan? EstimatedRemaining { get; internal init; }

    /// <summary>True when this report follows a durable checkpoint: a run killed after it does not redo the durable work below.</summary>
    public bool IsCheckpoint { get; internal init; }

    /// <summary>Of <see cref="BytesHashed"/>, what a resumed run will not hash again (a lower bound).</summary>
    public long DurableBytesHashed { get; internal init; }

    /// <summary>Data bytes sent and flushed that a resumed run will not send again.</summary>
    public long DurableDataBytesSent { get; internal init; }
}
