namespace Replication.Core.Replication;

/// <summary>Where a protected item is in its life cycle (what Azure Site Recovery shows as its replication health and state).</summary>
public enum ProtectionState
{
    /// <summary>Protection is being enabled: prerequisites checked, the relationship recorded on both sides.</summary>
    Enabling = 0,

    /// <summary>The disks are being copied to the site for the first time, while the machine runs.</summary>
    InitialReplication = 1,

    /// <summary>Delta cycles run; the newest recovery point is at most one cycle old.</summary>
    Protected = 2,

    /// <summary>A resynchronisation is needed (see the disks' reasons) before delta cycles can go on.</summary>
    ResyncRequired = 3,

    /// <summary>The disks are being compared with the replicas block by block and the differences sent.</summary>
    Resynchronising = 4,

    /// <summary>A non-recoverable failure stopped replication; an operator must repair it and resume (the reason is recorded).</summary>
    Critical = 5,

    /// <summary>A planned or unplanned failover is running.</summary>
    FailoverInProgress = 6,

    /// <summary>The machine runs at the recovery site from a recovery point; the failover can still be cancelled or moved to another point.</summary>
    FailedOver = 7,

    /// <summary>The failover is committed: the chosen point is fixed and the others are gone.</summary>
    Committed = 8,

    /// <summary>The recovery side is being copied back to the primary.</summary>
    FailbackInProgress = 9,

    /// <summary>The primary holds the recovered machine's disks again.</summary>
    FailedBack = 10,

    /// <summary>The primary is being protected again, seeded by a resynchronisation against the replica.</summary>
    ReverseReplication = 11,
}
