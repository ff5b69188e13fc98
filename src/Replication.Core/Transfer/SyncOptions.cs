using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// How a seed or resync (<see cref="IDiskSynchronizer"/>) runs: the copy's own options, block sizes, the checkpoint that
/// makes it resumable, the ranges it is restricted to, when a stored manifest is trusted, and whether anything is
/// written at all. Immutable; <see cref="Validate"/> lists what is wrong, and the synchroniser refuses invalid options
/// with an <see cref="ArgumentException"/> before it starts.
/// </summary>
public sealed record SyncOptions
{
    /// <summary>Default <see cref="CheckpointBytes"/>: 256 MiB of work between durable checkpoints.</summary>
    public const long DefaultCheckpointBytes = 256L << 20;

    /// <summary>Default <see cref="SampleFraction"/>: 1% of the coarse blocks (at least 16).</summary>
    public const double DefaultSampleFraction = 0.01;

    /// <summary>The defaults: no checkpoint, the whole disk, stamp-and-sample trust, a real run.</summary>
    public static SyncOptions Default { get; } = new();

    /// <summary>Concurrency, bandwidth, retries and intervals of the copy itself.</summary>
    public TransferOptions Transfer { get; init; } = TransferOptions.Default;

    /// <summary>Block sizes and hashing parallelism of the manifests.</summary>
    public ManifestOptions Manifest { get; init; } = ManifestOptions.Default;

    /// <summary>
    /// The checkpoint file (replaced atomically) that lets a killed seed or resync resume without copying (or hashing)
    /// again what it covers; the manifests a resync works with are kept beside it (<c>.source</c>, <c>.target</c>). All
    /// are deleted when the operation completes. Null: no checkpoint; working files go to <see cref="WorkDirectory"/>.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Folder for working manifests when there is no checkpoint (the system temp folder when null).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Bytes hashed or copied between checkpoints (besides <see cref="TransferOptions.CheckpointInterval"/>); positive.</summary>
    public long CheckpointBytes { get; init; } = DefaultCheckpointBytes;

    /// <summary>
    /// True when every byte of the destination reads as zero before the operation (a replica or file created for it): a
    /// seed then skips zero runs without a request. False makes them zero, which is always correct.
    /// </summary>
    public bool DestinationKnownZero { get; init; }

    /// <summary>
    /// Restricts the operation to these ranges (ascending, non-overlapping, sector-aligned; for example the regions a
    /// tracker reports after an unclean stop); null for the whole disk. Outside them nothing is read, compared or written.
    /// </summary>
    public IReadOnlyList<DiskExtent>? Ranges { get; init; }

    /// <summary>
    /// The source's change-tracking folder (the log folder of a <see cref="ChangeTracking.TrackedDisk"/> over the source's
    /// file, closed), or null. A resync then takes the source manifest kept there and rehashes only the coarse blocks the
    /// tracker's logs wrote since it was kept, when the tracker's state proves it saw every write since (clean close, the
    /// file unchanged since, no resync reason recorded, no log released or missing); otherwise it hashes the whole source
    /// (<see cref="SyncResult.SourceManifestRejection"/> says why). Either way the new source manifest is kept there for the
    /// next resync. The tracker's lock is held for the run: a resync fails with <see cref="ReplicationErrorCode.Conflict"/>
    /// while a tracker writes the source. The source must be a disk file without a parent.
    /// </summary>
    public string? SourceTrackingDirectory { get; init; }

    /// <summary>When a resync trusts the destination's stored manifest instead of hashing the destination.</summary>
    public TargetManifestPolicy TargetManifestPolicy { get; init; } = TargetManifestPolicy.VerifyStampAndSample;

    /// <summary>Fraction of coarse blocks re-hashed to verify a stored manifest, in (0, 1]; at least 16 blocks are re-hashed.</summary>
    public double SampleFraction { get; init; } = DefaultSampleFraction;

    /// <summary>Seed for choosing the sample; null for a fresh one each run.</summary>
    public int? RandomSeed { get; init; }

    /// <summary>Compare and report only: nothing is written (no data, manifest or checkpoint). Resync only.</summary>
    public bool DryRun { get; init; }

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Nested(Transfer?.Validate(), nameof(Transfer))
        .Nested(Manifest?.Validate(), nameof(Manifest))
        .When(CheckpointPath is { Length: 0 }, nameof(CheckpointPath), "must not be empty")
        .When(SourceTrackingDirectory is { Length: 0 }, nameof(SourceTrackingDirectory), "must not be empty")
        .When(CheckpointBytes <= 0, nameof(CheckpointBytes), "must be positive")
        .When(!Enum.IsDefined(TargetManifestPolicy), nameof(TargetManifestPolicy), "is not a known policy")
        .When(!(SampleFraction > 0 && SampleFraction <= 1), nameof(SampleFraction), "must be in (0, 1]")
        .Failures;
}
