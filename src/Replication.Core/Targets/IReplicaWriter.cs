using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Core.Targets;

/// <summary>
/// The single writer of a replica: it holds the target's writer fence and makes every change to the replica, its
/// manifest and its recovery points. Each change first checks the fence, atomically with the change where the storage
/// allows it (the Azure service checks the lease and sequence number of every page write), so a writer that lost the
/// fence changes nothing.
/// </summary>
/// <remarks>
/// The stored manifest describes the replica exactly or is not given out: the first change to the replica's data after
/// the writer took the fence, or after it last wrote the manifest, durably withdraws the stored manifest before the
/// change is made, and <see cref="IManifestStore.WriteManifestAsync"/> records the replica's stamp with the new one. As
/// an <see cref="IManifestStore"/>, <see cref="IManifestStore.OpenManifestAsync"/> gives the stored manifest out only
/// when it describes the replica as this writer found it when it took the fence and this writer has changed nothing
/// since.
/// As an <see cref="IDiskSink"/>: writes of disjoint ranges may run concurrently; offsets and lengths are multiples of 512
/// (<see cref="IDiskSink.WriteAlignment"/>); <see cref="IDiskSink.ZeroAsync"/> frees the range's storage where the target
/// can (Clear Pages on Azure, a punched hole locally); a write is durable once <see cref="IDiskSink.FlushAsync"/> returns
/// (at once on Azure); <see cref="IDiskSink.RenewAsync"/> extends the fence by its duration and fails with
/// <see cref="ReplicationErrorCode.FenceLost"/> once it is lost. Each call is one attempt: a transient failure is thrown as
/// a recoverable <see cref="ReplicationException"/> and the caller (the copy engine) retries it; every write is
/// idempotent, so a retry after a lost reply is harmless. Every change fails with
/// <see cref="ReplicationErrorCode.FenceLost"/> once the fence is lost. Disposing releases the fence.
/// </remarks>
public interface IReplicaWriter : IDiskSink, IManifestStore, IAsyncDisposable
{
    /// <summary>
    /// The fence generation this writer holds: it grows every time the fence changes hands (the page blob's sequence
    /// number on Azure), so a larger epoch always wins.
    /// </summary>
    long FenceEpoch { get; }

    /// <summary>Gives up the fence so another writer can acquire it at once. Every later change by this writer fails.</summary>
    ValueTask ReleaseAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Records the replica as it is now as a new recovery point, durable when this returns. Writes completed before the
    /// call are in it; later writes are not.
    /// </summary>
    /// <param name="label">Free text kept with the point (at most 256 characters), or null.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    ValueTask<RecoveryPoint> CreateRecoveryPointAsync(string? label = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a recovery point; the others still read as they did. Returns false when it was not there.</summary>
    ValueTask<bool> DeleteRecoveryPointAsync(string id, CancellationToken cancellationToken = default);
}
