namespace Replication.Core.Replication;

/// <summary>How consistent a recovery point is.</summary>
public enum RecoveryPointKind
{
    /// <summary>The disks as a crash would have left them, at one instant across all of the machine's disks.</summary>
    CrashConsistent = 0,

    /// <summary>Taken while the embedding product had the applications quiesced (their data flushed and consistent).</summary>
    ApplicationConsistent = 1,
}
