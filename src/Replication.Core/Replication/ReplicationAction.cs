namespace Replication.Core.Replication;

/// <summary>What a replication run did for an item.</summary>
public enum ReplicationAction
{
    /// <summary>Copied the disks for the first time, then applied the logs written meanwhile (first recovery point).</summary>
    InitialReplication,

    /// <summary>A delta cycle: rotated, shipped and applied the logs, made a recovery point.</summary>
    DeltaCycle,

    /// <summary>Compared the disks with their replicas, sent the differences, then applied the logs written meanwhile.</summary>
    Resync,
}
