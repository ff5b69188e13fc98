using Replication.Core.Disks.Raw;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    /// <inheritdoc />
    /// <remarks>
    /// Fixed: the file's data ranges (holes of a sparse file read as zeros), at 4 KiB granularity. Dynamic: the
    /// allocated blocks. Differencing: the union of the allocated blocks and the parent's extents. Block granularity:
    /// a reported block may hold sectors that still read from the parent or as zeros.
    /// </remarks>
    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length)
    {
        if (_diskType == DiskType.Fixed)
        {
            return RawDisk.DataExtents(_file.Handle, offset, length);
        }

        IEnumerable<DiskExtent> own = OwnExtents(offset, length);
        if (_parent is null || offset >= _parent.VirtualSize)
        {
            return own;
        }

        return Union(own, _parent.GetAllocatedExtents(offset, Math.Min(length, _parent.VirtualSize - offset)));
    }

    private IEnumerable<DiskExtent> OwnExtents(long offset, long length)
    {
        long end = offset + length;
        long pendingStart = -1;
        long pendingEnd = -1;
        int lastBlock = (int)((end - 1) >> _blockShift);
        for (int block = (int)(offset >> _blockShift); block <= lastBlock; block++)
        {
            if (Volatile.Read(ref _bat[block]) == VhdLayout.Unallocated)
            {
                continue;
            }

            long start = Math.Max(offset, (long)block << _blockShift);
            long stop = Math.Min(end, ((long)block + 1) << _blockShift);
            if (start == pendingEnd)
            {
                pendingEnd = stop;
                continue;
            }

            if (pendingEnd > pendingStart)
            {
                yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
            }

            pendingStart = start;
            pendingEnd = stop;
        }

        if (pendingEnd > pendingStart)
        {
            yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
        }
    }

    /// <summary>Merges two ascending, merged extent sequences into their ascending, merged union.</summary>
    internal static IEnumerable<DiskExtent> Union(IEnumerable<DiskExtent> first, IEnumerable<DiskExtent> second)
    {
        using IEnumerator<DiskExtent> a = first.GetEnumerator();
        using IEnumerator<DiskExtent> b = second.GetEnumerator();
        bool hasA = a.MoveNext();
        bool hasB = b.MoveNext();
        long pendingStart = -1;
        long pendingEnd = -1;
        while (hasA || hasB)
        {
            DiskExtent next;
            if (hasA && (!hasB || a.Current.Offset <= b.Current.Offset))
            {
                next = a.Current;
                hasA = a.MoveNext();
            }
            else
            {
                next = b.Current;
                hasB = b.MoveNext();
            }

            if (next.Length == 0)
            {
                continue;
            }

            if (next.Offset <= pendingEnd)
            {
                pendingEnd = Math.Max(pendingEnd, next.End);
                continue;
            }

            if (pendingEnd > pendingStart)
            {
                yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
            }

            pendingStart = next.Offset;
            pendingEnd = next.End;
        }

        if (pendingEnd > pendingStart)
        {
            yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
        }
    }
}
