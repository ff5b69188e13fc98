namespace Replication.Core.ChangeTracking;

/// <summary>What <see cref="TrackedDisk.Open"/> found and did before tracking resumed.</summary>
/// <param name="StartedNewChain">True when the folder held no state: a new chain was started (the replica needs an initial copy).</param>
/// <param name="WasClosedCleanly">
/// True when the previous session closed cleanly (or none existed). False after a crash: the logs it left open were
/// recovered, their torn tails cut, and <see cref="ResyncReasons.UncleanShutdown"/> recorded.
/// </param>
/// <param name="RecoveredLogs">The logs left open (active, or being sealed) that were sealed here, oldest first.</param>
/// <param name="TornBytesCut">Bytes cut off the recovered logs: batches whose metadata block never became durable.</param>
/// <param name="RecoveredRecords">Records kept in the recovered logs.</param>
/// <param name="RemovedFiles">Leftover files removed: logs released or created by an interrupted rotation, temporary files.</param>
public sealed record TrackingOpenReport(
    bool StartedNewChain,
    bool WasClosedCleanly,
    IReadOnlyList<SealedLog> RecoveredLogs,
    long TornBytesCut,
    long RecoveredRecords,
    int RemovedFiles);
