namespace Replication.Core.Transfer;

/// <summary>How <see cref="ReplicaSeeder"/> brought a replica up to date.</summary>
public enum ReplicaSeedMode
{
    /// <summary>Every allocated range of the source was sent (no usable manifest on the target).</summary>
    Full,

    /// <summary>Only the ranges whose block hashes differ from the target's stored manifest were sent.</summary>
    ByManifest,
}
