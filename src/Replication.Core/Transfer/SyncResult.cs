using Replication.Core.Diff;

namespace Replication.Core.Transfer;

/// <summary>What a seed or resync found and did (or, for a dry run, would do). Counters cover this run only.</summary>
public sealed class SyncResult
{
    internal SyncResult()
    {
    }

    /// <summary>Whether everything allocated was copied or only what differs from the destination's manifest.</summary>
    public SyncMode Mode { get; internal set; }

    /// <summary>Virtual size of the source.</summary>
    public long VirtualSize { get; internal init; }

    /// <summary>True for a dry run: nothing was written.</summary>
    public bool IsDryRun { get; internal init; }

    /// <summary>True when this run continued an interrupted seed or resync from its checkpoint.</summary>
    public bool Resumed { get; internal set; }

    /// <summary>
    /// Where the destination's manifest came from for a <see cref="SyncMode.ByManifest"/> run: hashed from the
    /// destination, the stored one after the policy's checks, or the one an interrupted run kept with its checkpoint;
    /// null for a full seed.
    /// </summary>
    public TargetManifestOrigin? TargetManifest { get; internal set; }

    /// <summary>Why a stored manifest was not trusted (none stored, corrupt, stale, failed the sample), or null.</summary>
    public string? TargetManifestRejection { get; internal set; }

    /// <summary>
    /// True when the source's manifest was the one kept in <see cref="SyncOptions.SourceTrackingDirectory"/>, refreshed by
    /// rehashing only the blocks its change tracker recorded writes to since it was kept.
    /// </summary>
    public bool SourceManifestRefreshed { get; internal set; }

    /// <summary>
    /// With <see cref="SyncOptions.SourceTrackingDirectory"/>: why the kept source manifest was not used (none kept yet, a
    /// write outside the tracker, a resync requirement, a released log), so the source was hashed in full; null otherwise.
    /// </summary>
    public string? SourceManifestRejection { get; internal set; }

    /// <summary>Bytes compared (the ranges the run covers).</summary>
    public long BytesCompared { get; internal set; }

    /// <summary>Bytes that differ (whole fine blocks); for a full seed, every byte of the ranges.</summary>
    public long BytesDiffering { get; internal set; }

    /// <summary>Of <see cref="BytesDiffering"/>, bytes that are zeros on the source (made zero, no data sent).</summary>
    public long ZeroBytes { get; internal set; }

    /// <summary>Differing ranges (merged where both are data or both zeros).</summary>
    public int RangeCount { get; internal set; }

    /// <summary>Coarse blocks whose hashes differ.</summary>
    public int DifferingBlocks { get; internal set; }

    /// <summary>
    /// Bytes of metadata a two-site resync exchanges: coarse hashes of the whole disk, fine hashes of the differing
    /// coarse blocks, a header per range (see <see cref="BlockDiff.ManifestBytes"/>). 0 for a full seed and for a run
    /// resumed in its copy phase (the manifests were exchanged by the run that was interrupted).
    /// </summary>
    public long ManifestBytes { get; internal set; }

    /// <summary>Bytes of source data sent to the destination; for a dry run, what would be sent.</summary>
    public long DataBytesSent { get; internal set; }

    /// <summary><see cref="ManifestBytes"/> plus <see cref="DataBytesSent"/>: what crosses the link.</summary>
    public long BytesSent => ManifestBytes + DataBytesSent;

    /// <summary>Bytes written to the destination (data and zeros); 0 for a dry run.</summary>
    public long BytesWritten { get; internal set; }

    /// <summary>Bytes read from either side (hashing, verification and copying).</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Of <see cref="BytesRead"/>, bytes read from the destination to verify its stored manifest or to hash it.</summary>
    public long DestinationBytesRead { get; internal set; }

    /// <summary>Bytes hashed from either side.</summary>
    public long BytesHashed { get; internal set; }

    /// <summary>What the copy itself read, sent, zeroed and retried; null for a dry run or when nothing was left to copy.</summary>
    public TransferResult? Transfer { get; internal set; }

    /// <summary>Wall time of the run, on the synchroniser's clock.</summary>
    public TimeSpan Elapsed { get; internal set; }
}
