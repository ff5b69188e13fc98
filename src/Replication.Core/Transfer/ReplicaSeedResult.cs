namespace Replication.Core.Transfer;

/// <summary>What <see cref="ReplicaSeeder.SeedAsync"/> did.</summary>
/// <param name="Mode">Whether the whole source was sent or only what differs from the target's manifest.</param>
/// <param name="BytesDiffering">Bytes whose block hashes differed (the whole virtual size for a full seed).</param>
/// <param name="ManifestBytesHashed">Source bytes hashed to build its manifest.</param>
/// <param name="StoredManifestProblem">Why a stored manifest was not used, when there was one; null otherwise.</param>
/// <param name="Transfer">What the transfer read, sent, skipped and retried.</param>
public sealed record ReplicaSeedResult(
    ReplicaSeedMode Mode,
    long BytesDiffering,
    long ManifestBytesHashed,
    string? StoredManifestProblem,
    TransferResult Transfer);
