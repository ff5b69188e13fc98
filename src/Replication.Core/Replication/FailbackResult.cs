namespace Replication.Core.Replication;

/// <summary>What a failback did and cost.</summary>
public sealed class FailbackResult
{
    internal FailbackResult(FailbackMode mode, IReadOnlyList<string> disks)
    {
        Mode = mode;
        Disks = disks;
    }

    /// <summary>How it copied.</summary>
    public FailbackMode Mode { get; }

    /// <summary>The disks written, in disk order.</summary>
    public IReadOnlyList<string> Disks { get; }

    /// <summary>Bytes compared by block checksums (minimise downtime; 0 for a whole copy).</summary>
    public long BytesCompared { get; internal set; }

    /// <summary>Data bytes written to the destinations.</summary>
    public long BytesSent { get; internal set; }

    /// <summary>Bytes sent after the recovered machine was stopped (the downtime's share).</summary>
    public long BytesSentWhileStopped { get; internal set; }

    /// <summary>The item's state after it.</summary>
    public ProtectionState State { get; internal set; }
}
