namespace Replication.Core.Targets;

/// <summary>How to acquire a replica's writer fence. Immutable.</summary>
public sealed record ReplicaWriterOptions
{
    /// <summary>Acquire only when no other writer holds the fence.</summary>
    public static ReplicaWriterOptions Default { get; } = new();

    /// <summary>
    /// Take the fence even when another writer holds it (an operator's decision after a writer hung): the other writer
    /// is fenced off, and none of its later changes reach the replica.
    /// </summary>
    public bool BreakExisting { get; init; }
}
