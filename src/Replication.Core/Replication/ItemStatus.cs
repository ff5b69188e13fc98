namespace Replication.Core.Replication;

/// <summary>A protected item as its site record (and, when the disks are at hand, its trackers) shows it.</summary>
public sealed class ItemStatus
{
    internal ItemStatus(string name)
    {
        Name = name;
    }

    /// <summary>The item.</summary>
    public string Name { get; }

    /// <summary>Its state.</summary>
    public ProtectionState State { get; internal set; }

    /// <summary>Whether a test failover is running beside it.</summary>
    public bool TestFailoverActive { get; internal set; }

    /// <summary>The machine's description.</summary>
    public MachineDescription Machine { get; internal set; } = null!;

    /// <summary>Source network → recovery network.</summary>
    public IReadOnlyDictionary<string, string> NetworkMapping { get; internal set; } = new Dictionary<string, string>();

    /// <summary>The disks.</summary>
    public IReadOnlyList<DiskStatus> Disks { get; internal set; } = [];

    /// <summary>The newest recovery point, or null before the first one.</summary>
    public RecoveryPointInfo? LastRecoveryPoint { get; internal set; }

    /// <summary>Seconds from the newest recovery point to now (the recovery point objective met now), or null.</summary>
    public double? RpoSeconds { get; internal set; }

    /// <summary>Bytes of sealed logs at the primary not yet applied at the site (known when the disks are at hand).</summary>
    public long? PendingLogBytes { get; internal set; }

    /// <summary>Whether a resync is needed (recorded, or the trackers say so).</summary>
    public bool ResyncRequired { get; internal set; }

    /// <summary>The last failure recorded, with its code and whether a retry can help; null after a success.</summary>
    public ReplicationException? LastError { get; internal set; }

    /// <summary>When the last failure happened, or null.</summary>
    public DateTimeOffset? LastErrorAt { get; internal set; }
}
