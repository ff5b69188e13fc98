namespace Replication.Core.Replication;

/// <summary>What one replication run of an item did and cost.</summary>
public sealed class ReplicationRunResult
{
    internal ReplicationRunResult(string item)
    {
        Item = item;
    }

    /// <summary>The item.</summary>
    public string Item { get; }

    /// <summary>What the run did.</summary>
    public ReplicationAction Action { get; internal set; }

    /// <summary>The item's state after the run.</summary>
    public ProtectionState State { get; internal set; }

    /// <summary>Payload bytes written to the site (data; zero ranges are cleared, not sent).</summary>
    public long BytesSent { get; internal set; }

    /// <summary>Bytes found to be zero and cleared at the site instead of sent.</summary>
    public long BytesZeroed { get; internal set; }

    /// <summary>Bytes hashed to compare disks with replicas (a resync).</summary>
    public long BytesHashed { get; internal set; }

    /// <summary>Bytes compared (a resync: the disks' sizes compared by block hashes).</summary>
    public long BytesCompared { get; internal set; }

    /// <summary>Bytes the logs shipped in this run held after coalescing (each changed byte once).</summary>
    public long CoalescedBytes { get; internal set; }

    /// <summary>Bytes the logs recorded before coalescing (overwrites counted each time).</summary>
    public long LoggedBytes { get; internal set; }

    /// <summary>The recovery point the run made, or null.</summary>
    public RecoveryPointInfo? RecoveryPoint { get; internal set; }

    /// <summary>Recovery points pruned by retention.</summary>
    public int PointsPruned { get; internal set; }

    /// <summary>Adds the counts of a step of this run (a copy, a catch-up cycle, a follow-up resync) to the run's.</summary>
    internal void Add(ReplicationRunResult step)
    {
        BytesSent += step.BytesSent;
        BytesZeroed += step.BytesZeroed;
        BytesHashed += step.BytesHashed;
        BytesCompared += step.BytesCompared;
        CoalescedBytes += step.CoalescedBytes;
        LoggedBytes += step.LoggedBytes;
        PointsPruned += step.PointsPruned;
    }
}
