namespace Replication.Core.Replication;

/// <summary>A step of a protected item's life cycle, as the state machine allows or refuses it.</summary>
public enum ReplicationOperation
{
    /// <summary>Initial replication (started by enabling protection, resumed after an interruption).</summary>
    InitialReplication,

    /// <summary>A delta cycle: rotate, ship and apply, recovery point, retention.</summary>
    DeltaCycle,

    /// <summary>A resynchronisation, required by the tracker or asked for.</summary>
    Resync,

    /// <summary>Resuming an item left critical after an operator repaired the cause.</summary>
    Resume,

    /// <summary>A test failover (beside protection; replication goes on).</summary>
    TestFailover,

    /// <summary>Ending a test failover.</summary>
    TestFailoverCleanup,

    /// <summary>A planned failover (the source shut down, nothing lost).</summary>
    PlannedFailover,

    /// <summary>An unplanned failover (the primary lost; the newest or a chosen recovery point).</summary>
    UnplannedFailover,

    /// <summary>Moving a failover that is not yet committed to another recovery point.</summary>
    ChangeRecoveryPoint,

    /// <summary>Cancelling a failover that is not yet committed.</summary>
    CancelFailover,

    /// <summary>Committing a failover.</summary>
    Commit,

    /// <summary>Copying the recovery side back to the primary.</summary>
    Failback,

    /// <summary>Protecting the primary again after a failback.</summary>
    ReverseReplication,

    /// <summary>Removing the item's protection.</summary>
    Unprotect,
}
