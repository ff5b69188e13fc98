namespace Replication.Core.Disks;

/// <summary>
/// Optional capability of a writable disk: make a range read as zeros without transferring zeros (unmap, trim, punch a
/// hole, clear pages of a page blob). Resynchronisation uses it for ranges that are zero on the source; a disk without
/// it gets ordinary writes of zeros.
/// </summary>
public interface IZeroingDisk
{
    /// <summary>
    /// Makes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) read as zeros. Durable,
    /// like a write, once the disk is flushed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="NotSupportedException">The disk is read-only.</exception>
    ValueTask WriteZerosAsync(long offset, long length, CancellationToken cancellationToken = default);
}
