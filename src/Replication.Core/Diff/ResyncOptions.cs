namespace Replication.Core.Diff;

/// <summary>
/// How a resync runs: block sizes, where the target's manifest and the checkpoint live, when the target's stored
/// manifest is trusted, and whether anything is written at all. Immutable; validated when constructed.
/// </summary>
public sealed class ResyncOptions
{
    /// <summary>Default checkpoint interval: 256 MiB of work between durable checkpoints.</summary>
    public const long DefaultCheckpointInterval = 256L << 20;

    /// <summary>Default fraction of coarse blocks re-hashed to verify a stored target manifest: 1% (at least 16 blocks).</summary>
    public const double DefaultSampleFraction = 0.01;

    /// <summary>Creates options; every argument is checked here.</summary>
    /// <param name="manifest">Block sizes and hashing parallelism; <see cref="ManifestOptions.Default"/> when null.</param>
    /// <param name="targetManifestPath">
    /// The target's manifest, kept beside the replica: read (per <paramref name="targetManifestPolicy"/>) to avoid hashing
    /// the target, and replaced, atomically, by the target's new manifest when the resync completes. Null: none is kept
    /// (unless <paramref name="checkpointPath"/> is set, which then keeps one at <c>checkpointPath + ".target"</c>).
    /// </param>
    /// <param name="checkpointPath">
    /// The checkpoint file (replaced atomically) that lets a killed resync resume; the source's manifest is built beside
    /// it at <c>checkpointPath + ".source"</c>. Both are deleted when the resync completes. Null: no checkpoints.
    /// </param>
    /// <param name="targetManifestPolicy">When a stored target manifest is trusted.</param>
    /// <param name="sampleFraction">Fraction of coarse blocks re-hashed to verify a stored target manifest, in (0, 1].</param>
    /// <param name="dryRun">Compare and report only: nothing is written (no target data, manifest or checkpoint).</param>
    /// <param name="checkpointInterval">Bytes hashed or copied between checkpoints; positive.</param>
    /// <param name="randomSeed">Seed for choosing the sample; null for a fresh one each run.</param>
    /// <param name="timeProvider">Clock for elapsed time and estimates; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public ResyncOptions(
        ManifestOptions? manifest = null,
        string? targetManifestPath = null,
        string? checkpointPath = null,
        TargetManifestPolicy targetManifestPolicy = TargetManifestPolicy.VerifyStampAndSample,
        double sampleFraction = DefaultSampleFraction,
        bool dryRun = false,
        long checkpointInterval = DefaultCheckpointInterval,
        int? randomSeed = null,
        TimeProvider? timeProvider = null)
    {
        if (!Enum.IsDefined(targetManifestPolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(targetManifestPolicy), targetManifestPolicy, "Unknown policy.");
        }

        if (!(sampleFraction > 0 && sampleFraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(sampleFraction), sampleFraction, "The sample fraction must be in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(checkpointInterval);
        Manifest = manifest ?? ManifestOptions.Default;
        TargetManifestPath = string.IsNullOrEmpty(targetManifestPath) ? null : Path.GetFullPath(targetManifestPath);
        CheckpointPath = string.IsNullOrEmpty(checkpointPath) ? null : Path.GetFullPath(checkpointPath);
        TargetManifestPolicy = targetManifestPolicy;
        SampleFraction = sampleFraction;
        DryRun = dryRun;
        CheckpointInterval = checkpointInterval;
        RandomSeed = randomSeed;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Default block sizes, no stored manifest, no checkpoints, stamp-and-sample policy, not a dry run.</summary>
    public static ResyncOptions Default { get; } = new();

    /// <summary>Block sizes and hashing parallelism.</summary>
    public ManifestOptions Manifest { get; }

    /// <summary>The target's stored manifest (full path), or null.</summary>
    public string? TargetManifestPath { get; }

    /// <summary>The checkpoint file (full path), or null.</summary>
    public string? CheckpointPath { get; }

    /// <summary>When a stored target manifest is trusted.</summary>
    public TargetManifestPolicy TargetManifestPolicy { get; }

    /// <summary>Fraction of coarse blocks re-hashed to verify a stored target manifest (at least 16 blocks).</summary>
    public double SampleFraction { get; }

    /// <summary>True to compare and report only.</summary>
    public bool DryRun { get; }

    /// <summary>Bytes hashed or copied between checkpoints.</summary>
    public long CheckpointInterval { get; }

    /// <summary>Seed for choosing the verification sample, or null.</summary>
    public int? RandomSeed { get; }

    /// <summary>The clock.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Where the target's manifest is kept: the explicit path, else beside the checkpoint, else nowhere.</summary>
    internal string? EffectiveTargetManifestPath => TargetManifestPath ?? (CheckpointPath is null ? null : CheckpointPath + ".target");

    /// <summary>Where the source's manifest is built when checkpointing.</summary>
    internal string? SourceManifestPath => CheckpointPath is null ? null : CheckpointPath + ".source";
}
