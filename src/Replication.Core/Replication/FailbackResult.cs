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

    /// <summary>
    /// Disks whose last pass (minimise downtime) had nothing to compare: the recovered disk's files kept the stamp taken
    /// before the first pass (identity, length, change and modification times; the first pass's hashes still describe it),
    /// the destination kept the stamp recorded when the first pass finished, and a sample of blocks of both re-hashed to
    /// that first pass's manifest. A file changed just before the first pass (within 100 ms, or 3 s when its time is a
    /// whole second, as on file systems that keep coarse times) is never trusted this way (a write could keep its times);
    /// the other disks are compared by hashing them again.
    /// </summary>
    public int DisksUnchangedSinceFirstPass { get; internal set; }

    /// <summary>
    /// How long the recovered machine was down: from the request to stop it to the end of the copy made while it was
    /// stopped (on the engine's clock). Minimise downtime keeps this to the last pass; the other modes copy everything in it.
    /// </summary>
    public TimeSpan Downtime { get; internal set; }

    /// <summary>The item's state after it.</summary>
    public ProtectionState State { get; internal set; }
}
