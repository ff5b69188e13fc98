using Replication.Core.Disks;

namespace Replication.Core.Transfer;

/// <summary>
/// Applies sealed HRL logs, in chain order, to a destination (a disk, or a replica through its writer): the logs are
/// checked, coalesced (the last write wins per byte; overwritten data is never read), and the extents written in
/// ascending order through the one copy engine, with bounded concurrency, the bandwidth limit and per-request retries;
/// zero runs are made zero by the destination instead of sent.
/// </summary>
public interface ILogApplier
{
    /// <summary>Applies sealed logs (oldest first) to <paramref name="destination"/>; durable there when it returns.</summary>
    /// <param name="logPaths">The logs, oldest first.</param>
    /// <param name="destination">The disk or replica writer to write; writable.</param>
    /// <param name="options">Chain point, undo log, checkpoint, copy options; <see cref="LogApplyOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress at most every <see cref="TransferOptions.ProgressInterval"/>, after every checkpoint and at the end.</param>
    /// <param name="cancellationToken">Cancels the apply; a cancelled apply may have written part of the data (apply again).</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="ArgumentException">No log is given, the options are invalid, or the destination is read-only.</exception>
    /// <exception cref="InvalidLogFormatException">
    /// A log is corrupt or not sealed, a log's integrity check fails, or a write lies beyond the destination or is not
    /// aligned to its <see cref="IDiskSink.WriteAlignment"/>.
    /// </exception>
    /// <exception cref="InvalidRecordException">A log's sidecar, or the checkpoint, is corrupt.</exception>
    /// <exception cref="ReplicationException">
    /// A log does not continue the chain (<see cref="ReplicationErrorCode.ChainBroken"/>); a log or required sidecar does
    /// not exist (<see cref="ReplicationErrorCode.NotFound"/>); an undo log of another apply is in the way
    /// (<see cref="ReplicationErrorCode.ChainBroken"/>); the destination failed (fence lost at once; a transient failure
    /// once a request used all its attempts).
    /// </exception>
    Task<LogApplyResult> ApplyAsync(
        IReadOnlyList<string> logPaths,
        IDiskSink destination,
        LogApplyOptions? options = null,
        IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
