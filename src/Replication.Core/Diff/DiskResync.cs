using Replication.Core.Disks;

namespace Replication.Core.Diff;

/// <summary>
/// Block-checksum resynchronisation of a target disk from a source disk of the same virtual size (any two formats):
/// both are described by manifests, the manifests are compared in two levels, and exactly the differing fine blocks are
/// copied (ranges that are zero on the source are written as zeros, through <see cref="IDiskSink.ZeroAsync"/>, which frees
/// the target's storage where it can). Resumable from a checkpoint, observable through <see cref="IProgress{T}"/>, and able to report its cost
/// without writing anything.
/// </summary>
public static class DiskResync
{
    /// <summary>
    /// Makes <paramref name="target"/> read equal to <paramref name="source"/>:
    /// <list type="number">
    /// <item>builds the source's manifest (resuming a partial one kept beside the checkpoint);</item>
    /// <item>obtains the target's: the stored one when <see cref="ResyncOptions.TargetManifestPolicy"/> trusts it,
    /// otherwise hashed from the target;</item>
    /// <item>compares them, coarse blocks first, then fine blocks inside differing coarse blocks;</item>
    /// <item>copies the differing ranges in ascending order, flushing the target and replacing the checkpoint every
    /// <see cref="ResyncOptions.CheckpointInterval"/> bytes; the checkpoint is written before the first byte of the
    /// target is;</item>
    /// <item>flushes the target, stores its new manifest (the source's, stamped for the target) atomically, and deletes
    /// the checkpoint.</item>
    /// </list>
    /// Idempotent and restartable: killed at any point and run again with the same options, it resumes without hashing
    /// again what a checkpoint covers and without copying again what was flushed, and converges to the same target.
    /// Neither disk may be written by anyone else while it runs (a changing source is copied as found, fuzzily).
    /// With <see cref="ResyncOptions.DryRun"/> nothing is written and the result says what would be sent.
    /// </summary>
    /// <param name="source">The disk to copy from; only read.</param>
    /// <param name="target">The disk to make equal to the source; writable unless this is a dry run.</param>
    /// <param name="options">Block sizes, manifest and checkpoint paths, policy; <see cref="ResyncOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress every 64 MiB hashed, 16 MiB copied, at every phase change and after every checkpoint (then <see cref="ResyncProgress.IsCheckpoint"/> is true).</param>
    /// <param name="cancellationToken">Stops the resync; what is checkpointed is kept for the next run.</param>
    /// <returns>What was compared, sent and written.</returns>
    /// <exception cref="ArgumentException">The disks differ in virtual size, are empty (0 bytes), are the same object, or the target is read-only for a real run.</exception>
    /// <exception cref="InvalidManifestException">The checkpoint file is corrupt (it is never trusted; delete it to start over).</exception>
    /// <exception cref="InvalidDiskFormatException">A disk image is corrupt.</exception>
    public static Task<ResyncResult> ResyncAsync(
        IVirtualDisk source,
        IVirtualDisk target,
        ResyncOptions? options = null,
        IProgress<ResyncProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        options ??= ResyncOptions.Default;
        if (ReferenceEquals(source, target))
        {
            throw new ArgumentException("The source and the target are the same disk.", nameof(target));
        }

        if (source.VirtualSize != target.VirtualSize)
        {
            throw new ArgumentException(
                $"The source ({source.FilePath ?? "disk"}, {source.VirtualSize} bytes) and the target ({target.FilePath ?? "disk"}, {target.VirtualSize} bytes) differ in virtual size.",
                nameof(target));
        }

        ManifestBuilder.ThrowIfEmpty(source, nameof(source));
        if (!options.DryRun && target.IsReadOnly)
        {
            throw new ArgumentException($"{target.FilePath ?? "The target"}: the target is open read-only.", nameof(target));
        }

        return new ResyncRun(source, target, options, progress).RunAsync(cancellationToken);
    }
}
