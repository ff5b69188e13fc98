using Replication.Core.Diff;

namespace Replication.Core.Transfer;

/// <summary>Options of <see cref="ReplicaSeeder.SeedAsync"/>. Immutable.</summary>
public sealed record ReplicaSeedOptions
{
    /// <summary>Concurrency, bandwidth, retries, checkpoint and progress of the transfer itself.</summary>
    public TransferOptions Transfer { get; init; } = TransferOptions.Default;

    /// <summary>Block sizes and parallelism of the source's manifest.</summary>
    public ManifestOptions Manifest { get; init; } = ManifestOptions.Default;

    /// <summary>Folder for the source's manifest while the seed runs (the system temp folder when null).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>
    /// Send everything without looking at the replica (for a replica just created, which reads as zeros): no manifest
    /// of it is read, sampled or hashed.
    /// </summary>
    public bool IgnoreStoredManifest { get; init; }

    /// <summary>
    /// Fraction of the replica's coarse blocks re-hashed to verify a stored manifest whose stamp matched, in (0, 1];
    /// at least 16 blocks are re-hashed. Default 1%.
    /// </summary>
    public double SampleFraction
    {
        get;
        init
        {
            if (!(value > 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The sample fraction must be in (0, 1].");
            }

            field = value;
        }
    } = ResyncOptions.DefaultSampleFraction;

    /// <summary>Seed for choosing the sample; null for a fresh one each run.</summary>
    public int? RandomSeed { get; init; }
}
