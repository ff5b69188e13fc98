namespace Replication.Hosting.Jobs;

/// <summary>What a job does, as Azure Site Recovery's Jobs tab names it.</summary>
public enum JobKind
{
    /// <summary>Enable protection: prerequisites, the relationship recorded, then the initial replication and its first point.</summary>
    EnableProtection,

    /// <summary>Initial replication resumed after an interruption.</summary>
    InitialReplication,

    /// <summary>Finalise protection: the writes made during the initial copy applied and the first recovery point made.</summary>
    FinalizeProtection,

    /// <summary>A delta cycle: rotate, ship and apply, recovery point, retention.</summary>
    DeltaCycle,

    /// <summary>A resynchronisation (required by the tracker, or asked for).</summary>
    Resync,

    /// <summary>A test failover.</summary>
    TestFailover,

    /// <summary>Cleanup of a test failover.</summary>
    TestFailoverCleanup,

    /// <summary>A planned failover.</summary>
    PlannedFailover,

    /// <summary>An unplanned failover.</summary>
    UnplannedFailover,

    /// <summary>Commit of a failover.</summary>
    Commit,

    /// <summary>A failback.</summary>
    Failback,

    /// <summary>Reverse replication after a failback.</summary>
    ReverseReplication,

    /// <summary>A recovery plan run (its items' jobs are listed on their own).</summary>
    RecoveryPlan,
}

/// <summary>Groups of <see cref="JobKind"/>.</summary>
internal static class JobKinds
{
    /// <summary>True for a recovery plan's operation on an item (a failover, its cleanup or commit, a failback, reverse replication).</summary>
    public static bool IsRecoveryOperation(this JobKind kind) => kind is JobKind.TestFailover or JobKind.TestFailoverCleanup or JobKind.PlannedFailover
        or JobKind.UnplannedFailover or JobKind.Commit or JobKind.Failback or JobKind.ReverseReplication;
}
