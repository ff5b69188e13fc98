using Replication.Core.Disks;

namespace Replication.Core.Transfer;

/// <summary>Copies a disk into a new file of any format and type, on the one copy engine.</summary>
public interface IDiskConverter
{
    /// <summary>
    /// Creates <paramref name="destinationPath"/> with <paramref name="options"/> (its virtual size is taken from the
    /// source when 0) and copies every allocated, non-zero range of the source into it: zero runs are not written, so a
    /// dynamic output stays sparse and a fixed one keeps its holes. The destination is flushed before this returns; on
    /// failure or cancellation the partial destination file is deleted.
    /// </summary>
    /// <param name="source">The disk to convert; only read.</param>
    /// <param name="destinationPath">The file to create; it must not exist.</param>
    /// <param name="options">Format, type and layout of the new disk.</param>
    /// <param name="transfer">Concurrency and sizes of the copy; <see cref="TransferOptions.Default"/> when null.</param>
    /// <param name="progress">Receives progress at most every <see cref="TransferOptions.ProgressInterval"/> and at the end.</param>
    /// <param name="cancellationToken">Cancels the conversion; nothing is left at <paramref name="destinationPath"/>.</param>
    /// <returns>What was read and written (<see cref="TransferResult.BytesSent"/> is the non-zero data written).</returns>
    /// <exception cref="ArgumentException">The options do not fit the source (smaller size, other logical sector size), or the transfer options are invalid.</exception>
    /// <exception cref="IOException">The destination exists.</exception>
    Task<TransferResult> ConvertAsync(
        IVirtualDisk source,
        string destinationPath,
        DiskCreateOptions options,
        TransferOptions? transfer = null,
        IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
