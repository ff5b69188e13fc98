namespace Replication.Core.ChangeTracking;

/// <summary>
/// A tracked disk's chain and resync reasons as its state file shows them, read without opening the disk (another
/// process may be tracking it right now): for status and monitoring.
/// </summary>
public sealed class TrackingSnapshot
{
    internal TrackingSnapshot(IReadOnlyList<SealedLog> sealedLogs, long activeLogBytes, ResyncReasons reasons, bool closedCleanly)
    {
        SealedLogs = sealedLogs;
        ActiveLogBytes = activeLogBytes;
        Reasons = reasons;
        ClosedCleanly = closedCleanly;
    }

    /// <summary>The sealed logs not yet released, in chain order.</summary>
    public IReadOnlyList<SealedLog> SealedLogs { get; }

    /// <summary>Bytes of the active log when the state was last written (0 when closed).</summary>
    public long ActiveLogBytes { get; }

    /// <summary>The resync reasons recorded.</summary>
    public ResyncReasons Reasons { get; }

    /// <summary>Whether the tracker was closed cleanly when the state was written.</summary>
    public bool ClosedCleanly { get; }
}
