namespace Replication.Core.Diff;

/// <summary>A snapshot of a running resync. Counters cover this run only.</summary>
/// <param name="Phase">What the resync is doing.</param>
/// <param name="BytesHashed">Bytes read and hashed from either disk so far.</param>
/// <param name="BytesCompared">Bytes of the disk compared so far.</param>
/// <param name="BytesDiffering">Bytes found to differ (known once comparing is done).</param>
/// <param name="BytesCopied">Bytes written to the target so far (data and zeros).</param>
/// <param name="BytesToCopy">Bytes this run has to write to the target (known once comparing is done).</param>
/// <param name="Elapsed">Time since the run started.</param>
/// <param name="EstimatedRemaining">A linear estimate of the time left from the rate so far; null until there is a rate.</param>
/// <param name="IsCheckpoint">True when this report follows a durable checkpoint: a resync killed after it does not redo the durable work below.</param>
/// <param name="DurableBytesHashed">Of <paramref name="BytesHashed"/>, what a resumed resync will not hash again (a lower bound).</param>
/// <param name="DurableDataBytesSent">Data bytes sent and flushed to the target that a resumed resync will not send again.</param>
public readonly record struct ResyncProgress(
    ResyncPhase Phase,
    long BytesHashed,
    long BytesCompared,
    long BytesDiffering,
    long BytesCopied,
    long BytesToCopy,
    TimeSpan Elapsed,
    TimeSpan? EstimatedRemaining,
    bool IsCheckpoint,
    long DurableBytesHashed,
    long DurableDataBytesSent);
