namespace Replication.Core.ChangeTracking;

/// <summary>Why a tracked disk's replica must be resynchronised (compared block by block) rather than fed logs alone.</summary>
[Flags]
public enum ResyncReasons
{
    /// <summary>No resync is required.</summary>
    None = 0,

    /// <summary>
    /// The sealed logs not yet released plus the active log reached <see cref="TrackedDiskOptions.ResyncThreshold"/> of
    /// the disk's size: shipping them would cost more than comparing the disk. Derived, not stored: it clears itself
    /// when logs are released.
    /// </summary>
    PendingLogsTooLarge = 1,

    /// <summary>
    /// The active log was not closed cleanly (<c>EOLLocation</c> 0 found at open): writes may have reached the disk
    /// without reaching the log. <see cref="ResyncRequirement.Ranges"/> says where.
    /// </summary>
    UncleanShutdown = 2,

    /// <summary>A log of the chain is missing, altered, or does not continue the chain (a gap or a fork).</summary>
    ChainBroken = 4,

    /// <summary>
    /// The disk's VHDX DataWriteGuid differs from the one recorded when tracking last stopped: the disk was modified while
    /// tracking was off.
    /// </summary>
    DataWriteGuidChanged = 8,

    /// <summary>Writing the log failed; tracking stopped and later writes went to the disk only.</summary>
    LogWriteFailed = 16,

    /// <summary>A write reached the log but failed on the disk, so the log may hold data the disk does not.</summary>
    DiskWriteFailed = 32,

    /// <summary>
    /// The disk's file changed while tracking was off: its stamp (inode, length, modification and change time) differs
    /// from the one recorded when the tracker last closed it cleanly. Catches edits by another program on formats
    /// without a DataWriteGuid (raw, VHD) and on a VHDX written without renewing it.
    /// </summary>
    DiskChangedOffline = 64,
}
