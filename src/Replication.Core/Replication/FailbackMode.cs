namespace Replication.Core.Replication;

/// <summary>How a failback copies the recovered machine back to the primary.</summary>
public enum FailbackMode
{
    /// <summary>
    /// Synchronise while the recovered machine keeps running, comparing block checksums so only what differs is sent;
    /// then stop it and send what changed meanwhile: the shortest downtime.
    /// </summary>
    MinimizeDowntime,

    /// <summary>Stop the recovered machine, then copy every disk whole (no checksums): simple, longer downtime.</summary>
    FullDownload,

    /// <summary>Stop the recovered machine, then copy it to other disk files (created when missing, in any format).</summary>
    AlternateDisk,
}
