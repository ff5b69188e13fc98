using Replication.Core.Diff;

namespace Replication.Core.Transfer;

/// <summary>What <see cref="ReplicaSeeder.SeedAsync"/> did.</summary>
public sealed class ReplicaSeedResult
{
    internal ReplicaSeedResult()
    {
    }

    /// <summary>Whether the whole source was sent or only what differs from the replica's manifest.</summary>
    public ReplicaSeedMode Mode { get; internal set; }

    /// <summary>Bytes whose block hashes differed (the whole virtual size for a full seed).</summary>
    public long BytesDiffering { get; internal set; }

    /// <summary>Source bytes hashed to build its manifest.</summary>
    public long ManifestBytesHashed { get; internal set; }

    /// <summary>
    /// Where the replica's manifest came from for a <see cref="ReplicaSeedMode.ByManifest"/> seed: the stored one, after
    /// its stamp and a sample agreed with the replica (<see cref="TargetManifestOrigin.Verified"/>), or hashed from the
    /// replica in this run (<see cref="TargetManifestOrigin.Rebuilt"/>); null for a full seed.
    /// </summary>
    public TargetManifestOrigin? ReplicaManifest { get; internal set; }

    /// <summary>Why the stored manifest was not used (none stored, the replica changed outside this tool, a sample disagreed); null when it was, or when none was looked for.</summary>
    public string? ReplicaManifestRejection { get; internal set; }

    /// <summary>Bytes read from the replica to verify its stored manifest or to hash it.</summary>
    public long ReplicaBytesRead { get; internal set; }

    /// <summary>What the transfer read, sent, skipped and retried.</summary>
    public TransferResult Transfer { get; internal set; } = null!;
}
