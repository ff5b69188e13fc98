namespace Replication.Core.ChangeTracking;

/// <summary>What <see cref="TrackedDisk.Open"/> found and did before tracking resumed.</summary>
public sealed class TrackingOpenReport
{
    internal TrackingOpenReport()
    {
    }

    /// <summary>True when the folder held no state: a new chain was started (the replica needs an initial copy).</summary>
    public bool StartedNewChain { get; internal init; }

    /// <summary>
    /// True when the previous session closed cleanly (or none existed). False after a crash: the logs it left open were
    /// recovered, their torn tails cut, and <see cref="ResyncReasons.UncleanShutdown"/> recorded.
    /// </summary>
    public bool WasClosedCleanly { get; internal init; }

    /// <summary>The logs left open (active, or being sealed) that were sealed here, oldest first.</summary>
    public IReadOnlyList<SealedLog> RecoveredLogs { get; internal init; } = [];

    /// <summary>Bytes cut off the recovered logs: batches whose metadata block never became durable.</summary>
    public long TornBytesCut { get; internal init; }

    /// <summary>Records kept in the recovered logs.</summary>
    public long RecoveredRecords { get; internal init; }

    /// <summary>Leftover files removed: logs released or created by an interrupted rotation, temporary files.</summary>
    public int RemovedFiles { get; internal init; }
}
