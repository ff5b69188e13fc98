namespace Replication.Core.Replication;

/// <summary>Progress of one long step of the engine (a copy, a resync, an apply) on one disk.</summary>
public sealed class ReplicationProgress
{
    /// <summary>The item.</summary>
    public required string Item { get; init; }

    /// <summary>The disk's index in the item.</summary>
    public required int Disk { get; init; }

    /// <summary>What is running: <c>copy</c> (initial replication or resync) or <c>apply</c> (a cycle's logs).</summary>
    public required string Step { get; init; }

    /// <summary>Bytes of the step's work done so far (copied or applied, sent or made zero).</summary>
    public long BytesDone { get; init; }

    /// <summary>Bytes of work the step has in all, as far as known now.</summary>
    public long BytesTotal { get; init; }

    /// <summary>Payload bytes sent to the replica so far.</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes made zero at the replica without sending data.</summary>
    public long BytesZeroed { get; init; }

    /// <summary>Recent rate of work, bytes per second.</summary>
    public double BytesPerSecond { get; init; }

    /// <summary>Estimated time left, when it can be estimated.</summary>
    public TimeSpan? EstimatedRemaining { get; init; }

    /// <summary>The offset up to which the step's checkpoint is durable (a resumed step starts there).</summary>
    public long CheckpointedUpTo { get; init; }
}
