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

    /// <summary>Send everything even when the target holds a usable manifest.</summary>
    public bool IgnoreStoredManifest { get; init; }
}
