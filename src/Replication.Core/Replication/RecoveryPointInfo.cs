namespace Replication.Core.Replication;

/// <summary>A recovery point of a protected machine: one point per disk, all taken at the same cut.</summary>
public sealed class RecoveryPointInfo
{
    internal RecoveryPointInfo(string id, long cycle, DateTimeOffset createdAt, RecoveryPointKind kind, IReadOnlyList<string> diskPoints)
    {
        Id = id;
        Cycle = cycle;
        CreatedAt = createdAt;
        Kind = kind;
        DiskPoints = diskPoints;
    }

    /// <summary>The point's identifier within its item (the number of the cycle that made it).</summary>
    public string Id { get; }

    /// <summary>The cycle that made it.</summary>
    public long Cycle { get; }

    /// <summary>When the cut was made.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Crash- or application-consistent.</summary>
    public RecoveryPointKind Kind { get; }

    /// <summary>Each disk's recovery point at its replica target, in disk order.</summary>
    public IReadOnlyList<string> DiskPoints { get; }
}
