using Replication.Core.Disks;

namespace Replication.Core.Diff;

/// <summary>Builds the block manifest of a disk: an XxHash128 per fine block and, per coarse block, the XxHash128 of its fine hashes.</summary>
public interface IManifestBuilder
{
    /// <summary>
    /// Hashes <paramref name="disk"/> into a new manifest file at <paramref name="path"/>: large sequential reads with
    /// pooled buffers on one worker per core (reads and hashing overlap), ranges the format knows are zero not read,
    /// blocks read as zeros not hashed. The file is written beside <paramref name="path"/> and renamed over it once
    /// complete and flushed, so <paramref name="path"/> never holds a partial manifest; on failure or cancellation
    /// nothing is left behind.
    /// </summary>
    /// <param name="disk">The disk to hash; it must not be written while the build runs.</param>
    /// <param name="path">The manifest file to create or replace.</param>
    /// <param name="options">Block sizes and parallelism; <see cref="ManifestOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress every 64 MiB and at the end.</param>
    /// <param name="cancellationToken">Stops the build.</param>
    /// <returns>The open, validated manifest and what building it read and hashed.</returns>
    /// <exception cref="ArgumentException">The disk is empty (0 bytes), or the options are invalid; nothing is created.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The disk has more than 16 Mi coarse blocks of the requested size.</exception>
    /// <exception cref="InvalidDiskFormatException">The disk image is corrupt.</exception>
    Task<ManifestBuildResult> BuildAsync(
        IVirtualDisk disk,
        string path,
        ManifestOptions? options = null,
        IProgress<ManifestProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
