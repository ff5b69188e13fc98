namespace Replication.Core.Disks;

/// <summary>
/// A virtual disk of any format: random-access reads and writes of any byte range, flush, and a map of
/// which ranges may hold data.
/// </summary>
/// <remarks>
/// Reads and writes of disjoint ranges may be issued concurrently from several threads. Concurrent writes
/// to overlapping ranges have no defined order. A write is durable once <see cref="Flush"/> (or
/// <see cref="IDiskSink.FlushAsync"/>) has returned after it; a format that allocates blocks keeps its file valid
/// after a crash at any point, losing at most the writes that were not yet flushed.
/// </remarks>
public interface IVirtualDisk : IDiskSink, IDisposable, IAsyncDisposable
{
    /// <summary>The file this disk is stored in, or null for a disk with no file.</summary>
    string? FilePath { get; }

    /// <summary>The container format.</summary>
    DiskFormat Format { get; }

    /// <summary>How blocks are stored (fixed, dynamic or differencing).</summary>
    DiskType DiskType { get; }

    /// <summary>Logical sector size in bytes (512 or 4096).</summary>
    int LogicalSectorSize { get; }

    /// <summary>Physical sector size in bytes (512 or 4096).</summary>
    int PhysicalSectorSize { get; }

    /// <summary>Allocation unit of the format in bytes; for raw and fixed disks the unit this library uses to report extents.</summary>
    int BlockSize { get; }

    /// <summary>The parent of a differencing disk, opened read-only; null otherwise.</summary>
    IVirtualDisk? Parent { get; }

    /// <summary>
    /// The VHDX DataWriteGuid: renewed by the first data write after the file is opened, so a change in it
    /// tells that user data was modified. Null for formats that have none.
    /// </summary>
    Guid? DataWriteGuid { get; }

    /// <summary>Bytes of virtual disk data stored in this file itself (not in its parents).</summary>
    long AllocatedBytes { get; }

    /// <summary>Reads <paramref name="destination"/>.Length bytes starting at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="InvalidDiskFormatException">A structure needed to locate the data is corrupt.</exception>
    void Read(long offset, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>; any offset and length inside the disk.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="NotSupportedException">The disk is read-only.</exception>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every completed write durable on stable storage.</summary>
    void Flush();

    /// <summary>
    /// True when the format knows, without reading data, that the whole range reads as zeros; false when it may
    /// hold data.
    /// </summary>
    bool IsKnownZero(long offset, long length);

    /// <inheritdoc />
    string IDiskSink.Location => FilePath ?? "disk";

    /// <inheritdoc />
    /// <remarks>A virtual disk accepts writes of any byte range.</remarks>
    int IDiskSink.WriteAlignment => 1;

    /// <inheritdoc />
    /// <remarks>A virtual disk's hold on its file does not lapse.</remarks>
    DateTimeOffset? IDiskSink.FenceExpiresAt => null;

    /// <inheritdoc />
    ValueTask IDiskSink.RenewAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    /// <remarks>Unless the disk does better, zeros are written from a shared buffer in writes of at most 1 MiB.</remarks>
    ValueTask IDiskSink.ZeroAsync(long offset, long length, CancellationToken cancellationToken) => ZeroBuffer.WriteAsync(this, offset, length, cancellationToken);
}
