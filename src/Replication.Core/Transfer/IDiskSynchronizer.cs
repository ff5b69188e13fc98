using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Core.Transfer;

/// <summary>
/// Makes a destination (a disk, or a replica through its writer) read equal to a source disk: by a full seed, or by a
/// resync that sends only the blocks whose hashes differ from the destination's manifest. Both run on the one copy
/// engine, are checkpointed and resumable, report progress and what they cost (bytes hashed, compared, sent).
/// </summary>
public interface IDiskSynchronizer
{
    /// <summary>
    /// Copies every allocated range of <paramref name="source"/> (or of <see cref="SyncOptions.Ranges"/>) to the same
    /// offsets of <paramref name="destination"/>, and makes the rest of those ranges (up to the destination's end) read as
    /// zeros; zero runs are made zero, or skipped on a destination known to read as zeros. With a checkpoint, a killed
    /// seed resumes without sending again what the checkpoint covers. With <paramref name="manifests"/>, the source's
    /// manifest is built first and stored once the destination is flushed. The destination is flushed before this
    /// returns. A source written while the seed runs is copied as found (fuzzily).
    /// </summary>
    /// <param name="source">The disk to copy; only read.</param>
    /// <param name="destination">Where to copy it; at least as large as the source.</param>
    /// <param name="manifests">Where to store the source's manifest for a later resync, or null.</param>
    /// <param name="options">The copy, checkpoint and ranges; <see cref="SyncOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress at most every <see cref="TransferOptions.ProgressInterval"/>, at every phase and after every checkpoint.</param>
    /// <param name="cancellationToken">Stops the seed; the checkpoint, when kept, is saved first.</param>
    /// <exception cref="ArgumentException">The options are invalid, the destination is smaller than the source or read-only, or a range is unaligned, out of order or outside.</exception>
    /// <exception cref="InvalidRecordException">The checkpoint file is corrupt (delete it to start over).</exception>
    /// <exception cref="ReplicationException">A non-recoverable failure (fence lost, bad credentials) at once; a recoverable one once a request used all its attempts.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the checkpoint, when kept, was saved first.</exception>
    Task<SyncResult> SeedAsync(
        IVirtualDisk source,
        IDiskSink destination,
        IManifestStore? manifests = null,
        SyncOptions? options = null,
        IProgress<SyncProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes <paramref name="destination"/> read equal to <paramref name="source"/> by block manifest:
    /// <list type="number">
    /// <item>builds the source's manifest (resuming a partial one kept beside the checkpoint);</item>
    /// <item>obtains the destination's: the one <paramref name="manifests"/> stored, when
    /// <see cref="SyncOptions.TargetManifestPolicy"/> trusts it and a sample of the destination re-hashes to it; otherwise
    /// one hashed from the destination now;</item>
    /// <item>compares them, coarse blocks first, then fine blocks inside differing coarse blocks (restricted to
    /// <see cref="SyncOptions.Ranges"/> when given);</item>
    /// <item>withdraws the stored manifest and writes the checkpoint before the first byte of the destination is written,
    /// then copies the differing ranges in ascending order (ranges zero on the source are made zero), checkpointing as it
    /// goes;</item>
    /// <item>flushes the destination, stores its new manifest (the source's) and deletes the checkpoint.</item>
    /// </list>
    /// Idempotent and restartable: killed at any point and run again with the same options, it resumes without hashing
    /// again what a checkpoint covers and without copying again what was flushed, and converges to the same destination.
    /// A checkpoint left by an interrupted <see cref="SeedAsync"/> resumes that seed instead. Neither side may be written
    /// by anyone else while it runs. With <see cref="SyncOptions.DryRun"/> nothing is written and the result says what
    /// would be sent.
    /// </summary>
    /// <param name="source">The disk to copy from; only read.</param>
    /// <param name="destination">The disk or replica to make equal to the source; same virtual size.</param>
    /// <param name="manifests">Where the destination's manifest is kept, or null to hash the destination every time and keep nothing.</param>
    /// <param name="options">Block sizes, checkpoint, ranges, trust policy; <see cref="SyncOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress every 64 MiB hashed, at every phase change, during the copy and after every checkpoint.</param>
    /// <param name="cancellationToken">Stops the resync; what is checkpointed is kept for the next run.</param>
    /// <exception cref="ArgumentException">The options are invalid, the sides differ in virtual size, are empty or the same, or the destination is read-only for a real run.</exception>
    /// <exception cref="InvalidRecordException">The checkpoint file is corrupt (it is never trusted; delete it to start over).</exception>
    /// <exception cref="InvalidDiskFormatException">A disk image is corrupt.</exception>
    /// <exception cref="ReplicationException">As for <see cref="SeedAsync"/>.</exception>
    Task<SyncResult> ResyncAsync(
        IVirtualDisk source,
        IDiskSink destination,
        IManifestStore? manifests = null,
        SyncOptions? options = null,
        IProgress<SyncProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
