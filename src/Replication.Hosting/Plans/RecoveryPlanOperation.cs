namespace Replication.Hosting.Plans;

/// <summary>What a recovery plan run does to each of its items.</summary>
public enum RecoveryPlanOperation
{
    /// <summary>A test failover of each item (a disposable copy; replication goes on).</summary>
    TestFailover,

    /// <summary>Removes each item's test failover.</summary>
    TestFailoverCleanup,

    /// <summary>A planned failover of each item: its source shut down, a final cycle, nothing lost.</summary>
    PlannedFailover,

    /// <summary>An unplanned failover of each item to its newest point (or the point the options name).</summary>
    UnplannedFailover,

    /// <summary>Commits each item's failover.</summary>
    Commit,

    /// <summary>Fails each committed item back to its primary disks.</summary>
    Failback,

    /// <summary>Protects each failed-back item again (resync against its replicas).</summary>
    ReverseReplication,
}
