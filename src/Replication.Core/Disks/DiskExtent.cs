namespace Replication.Core.Disks;

/// <summary>A byte range of a virtual disk: <see cref="Offset"/> inclusive to <see cref="End"/> exclusive.</summary>
/// <param name="Offset">First byte of the range on the virtual disk.</param>
/// <param name="Length">Number of bytes in the range.</param>
public readonly record struct DiskExtent(long Offset, long Length)
{
    /// <summary>The first byte after the range.</summary>
    public long End => Offset + Length;

    /// <summary>Returns the part of this extent inside [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>), which may be empty.</summary>
    public DiskExtent Intersect(long offset, long length)
    {
        long start = Math.Max(Offset, offset);
        long end = Math.Min(End, offset + length);
        return end > start ? new DiskExtent(start, end - start) : new DiskExtent(start, 0);
    }
}
