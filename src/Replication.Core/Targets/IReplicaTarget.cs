using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Core.Targets;

/// <summary>
/// The one seam between the replication engine and the storage that holds a replica: staging for sealed logs, the
/// replica disk, its block manifest, recovery points, and a writer fence. Everything that changes the replica goes
/// through an <see cref="IReplicaWriter"/> obtained from <see cref="AcquireWriterAsync"/>, so only one writer at a time
/// can change it; everything here is safe to call from any number of readers.
/// </summary>
/// <remarks>
/// Every operation is idempotent: repeating it after a crash or a lost reply converges to the same state. Errors are
/// <see cref="ReplicationException"/>s whose <see cref="ReplicationException.IsRecoverable"/> tells whether a retry can
/// help (a transient network failure) or an operator must act (bad credentials, a missing container). Messages name
/// the target by <see cref="Location"/> and never carry a key, SAS signature or token.
/// </remarks>
public interface IReplicaTarget
{
    /// <summary>Where the replica lives (a directory or a blob URI without its query), for messages; never holds a secret.</summary>
    string Location { get; }

    /// <summary>What the target requires of a replica (its size alignment and largest size) and can do with it.</summary>
    ReplicaTargetCapabilities Capabilities { get; }

    /// <summary>
    /// Stores a sealed log under <paramref name="name"/> with its XxHash128. The log is visible to
    /// <see cref="ListLogsAsync"/> only once it is complete and durable. Putting the same name with the same bytes
    /// again is a no-op.
    /// </summary>
    /// <param name="name">1 to 128 characters of <c>[A-Za-z0-9._-]</c>, not starting with a dot.</param>
    /// <param name="content">The log's bytes, read to the end.</param>
    /// <param name="expectedHash">The XxHash128 the shipper computed when the log was sealed; null to compute it here.</param>
    /// <param name="cancellationToken">Cancels the upload; nothing is staged then.</param>
    /// <returns>The staged log with its length and hash.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    /// <exception cref="ReplicationException">
    /// <see cref="ReplicationErrorCode.IntegrityCheckFailed"/> when the bytes read do not hash to
    /// <paramref name="expectedHash"/> (nothing is staged); <see cref="ReplicationErrorCode.Conflict"/> when a log of
    /// that name with other bytes is already staged.
    /// </exception>
    ValueTask<StagedLog> PutLogAsync(string name, Stream content, UInt128? expectedHash = null, CancellationToken cancellationToken = default);

    /// <summary>The staged logs, in ordinal order of their names.</summary>
    IAsyncEnumerable<StagedLog> ListLogsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a staged log for reading. The whole log has been checked against its hash before this returns; the stream
    /// is seekable and belongs to the caller.
    /// </summary>
    /// <exception cref="ReplicationException">
    /// <see cref="ReplicationErrorCode.NotFound"/> when no such log is staged; <see cref="ReplicationErrorCode.IntegrityCheckFailed"/>
    /// when its bytes no longer match its hash.
    /// </exception>
    ValueTask<Stream> OpenLogAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Deletes a staged log; returns false when it was not there (deleting twice is harmless).</summary>
    ValueTask<bool> DeleteLogAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The replica's virtual size, or null when no replica has been created.</summary>
    ValueTask<long?> GetReplicaSizeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates the replica, reading as zeros, when it does not exist. Returns true when this call created it and false
    /// when a replica of exactly this size was already there, so a retried or repeated call is harmless.
    /// </summary>
    /// <param name="virtualSize">A positive multiple of 512 (the Azure target also requires a whole number of MiB).</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size is not valid for this target.</exception>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.Conflict"/> when a replica of another size exists.</exception>
    ValueTask<bool> CreateReplicaAsync(long virtualSize, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the replica as it is now, read-only. Reads see every write acknowledged before they start; the disk can
    /// be copied or converted like any other.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when no replica exists.</exception>
    ValueTask<IVirtualDisk> OpenReplicaAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the block manifest stored beside the replica when it still describes the replica as it is now: its recorded
    /// replica stamp equals the replica's current one. Otherwise (none stored, the replica written by anything else since,
    /// restored, replaced, resized, or a writer holding the fence right now) the result carries no content and says why.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.IntegrityCheckFailed"/> when it no longer matches its hash.</exception>
    ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default);

    /// <summary>The recovery points, oldest first.</summary>
    IAsyncEnumerable<RecoveryPoint> ListRecoveryPointsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a recovery point read-only: the replica exactly as it was when the point was created, whatever was written
    /// after it.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when there is no such point.</exception>
    ValueTask<IVirtualDisk> OpenRecoveryPointAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the writer fence of the replica and returns the writer that holds it. While it holds the fence no other
    /// writer can acquire it (unless it breaks the fence on purpose); once it has lost the fence, every change it tries
    /// fails with <see cref="ReplicationErrorCode.FenceLost"/> and none of them reaches the replica.
    /// </summary>
    /// <exception cref="ReplicationException">
    /// <see cref="ReplicationErrorCode.FenceHeld"/> (recoverable) when another writer holds the fence;
    /// <see cref="ReplicationErrorCode.NotFound"/> when no replica exists.
    /// </exception>
    ValueTask<IReplicaWriter> AcquireWriterAsync(ReplicaWriterOptions? options = null, CancellationToken cancellationToken = default);
}
