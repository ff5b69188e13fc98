namespace Replication.Core.Diff;

/// <summary>What a resync found and did (or, for a dry run, would do). Counters cover this run only.</summary>
public sealed class ResyncResult
{
    internal ResyncResult()
    {
    }

    /// <summary>Virtual size of both disks.</summary>
    public long VirtualSize { get; internal init; }

    /// <summary>Bytes compared (the virtual size).</summary>
    public long BytesCompared { get; internal set; }

    /// <summary>Bytes that differ between source and target (whole fine blocks).</summary>
    public long BytesDiffering { get; internal set; }

    /// <summary>Of <see cref="BytesDiffering"/>, bytes that are zeros on the source (written as zeros, no data sent).</summary>
    public long ZeroBytes { get; internal set; }

    /// <summary>Differing ranges (merged where both are data or both zeros).</summary>
    public int RangeCount { get; internal set; }

    /// <summary>Coarse blocks whose hashes differ.</summary>
    public int DifferingBlocks { get; internal set; }

    /// <summary>
    /// Bytes of metadata a two-site resync exchanges: coarse hashes of the whole disk, fine hashes of the differing
    /// coarse blocks, a header per range (see <see cref="BlockDiff.ManifestBytes"/>). 0 for a run resumed in its copy
    /// phase: the manifests were exchanged by the run that was interrupted and kept with the checkpoint.
    /// </summary>
    public long ManifestBytes { get; internal set; }

    /// <summary>Bytes of source data sent (copied) to the target; for a dry run, what would be sent.</summary>
    public long DataBytesSent { get; internal set; }

    /// <summary><see cref="ManifestBytes"/> plus <see cref="DataBytesSent"/>: what crosses the link.</summary>
    public long BytesSent => ManifestBytes + DataBytesSent;

    /// <summary>Bytes written to the target (data and zeros); 0 for a dry run.</summary>
    public long BytesWritten { get; internal set; }

    /// <summary>Bytes read from either disk (hashing, verification and copying).</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Bytes hashed from either disk.</summary>
    public long BytesHashed { get; internal set; }

    /// <summary>Where the target's manifest came from.</summary>
    public TargetManifestOrigin TargetManifest { get; internal set; }

    /// <summary>Why a stored target manifest was not trusted (corrupt, stale, failed the sample), or null.</summary>
    public string? TargetManifestRejection { get; internal set; }

    /// <summary>True when this run continued an interrupted resync from its checkpoint.</summary>
    public bool Resumed { get; internal set; }

    /// <summary>True for a dry run.</summary>
    public bool IsDryRun { get; internal init; }

    /// <summary>Wall-clock time of the run.</summary>
    public TimeSpan Elapsed { get; internal set; }
}
