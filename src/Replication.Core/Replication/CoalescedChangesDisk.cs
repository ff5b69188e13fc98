using Replication.Core.ChangeTracking;
using Replication.Core.Disks;

namespace Replication.Core.Replication;

/// <summary>
/// Sealed logs, coalesced, seen as a read-only disk: inside a changed range a read returns the newest data the logs
/// hold, elsewhere zeros; its allocated extents are the changed ranges. The transfer pipeline copies the changed ranges
/// of this disk to a replica, so shipping a cycle is the one copy engine's job (each changed byte read once from the
/// logs and sent once).
/// </summary>
internal sealed class CoalescedChangesDisk : VirtualDisk
{
    private readonly CoalescedChanges _changes;
    private readonly IReadOnlyList<CoalescedExtent> _extents;
    private readonly DiskExtent[] _ranges;

    /// <param name="changes">The coalesced logs; owned by the caller, which disposes their readers.</param>
    /// <param name="virtualSize">The tracked disk's size.</param>
    /// <param name="identity">Names the logs for checkpoints and messages (the last log's path).</param>
    public CoalescedChangesDisk(CoalescedChanges changes, long virtualSize, string identity)
    {
        _changes = changes;
        _extents = changes.Extents;
        _ranges = [.. changes.GetChangedRanges()];
        VirtualSize = virtualSize;
        FilePath = identity;
        if (_ranges.Length > 0 && _ranges[^1].Offset + _ranges[^1].Length > virtualSize)
        {
            throw new InvalidLogFormatException(identity, 0, "HRL metadata entry", "ByteOffset", $"a logged write ends at {_ranges[^1].Offset + _ranges[^1].Length}, past the disk's {virtualSize} bytes");
        }
    }

    /// <summary>The changed ranges, ascending and merged.</summary>
    public IReadOnlyList<DiskExtent> ChangedRanges => _ranges;

    public override string? FilePath { get; }

    public override DiskFormat Format => DiskFormat.Raw;

    public override DiskType DiskType => DiskType.Fixed;

    public override long VirtualSize { get; }

    public override int LogicalSectorSize => 512;

    public override int BlockSize => 512;

    public override bool IsReadOnly => true;

    public override long AllocatedBytes => _changes.Bytes;

    protected override void ReadCore(long offset, Span<byte> destination)
    {
        destination.Clear();
        long end = offset + destination.Length;
        for (int i = FirstExtentEndingAfter(offset); i < _extents.Count && _extents[i].DiskOffset < end; i++)
        {
            CoalescedExtent extent = _extents[i];
            long from = Math.Max(offset, extent.DiskOffset);
            long to = Math.Min(end, extent.End);
            _changes.ReadData(extent, from - extent.DiskOffset, destination.Slice((int)(from - offset), (int)(to - from)));
        }
    }

    protected override void WriteCore(long offset, ReadOnlySpan<byte> source) =>
        throw new NotSupportedException("Coalesced logs are read-only.");

    protected override void FlushCore()
    {
    }

    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length)
    {
        long end = offset + length;
        foreach (DiskExtent range in _ranges)
        {
            long from = Math.Max(offset, range.Offset);
            long to = Math.Min(end, range.Offset + range.Length);
            if (from < to)
            {
                yield return new DiskExtent(from, to - from);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
    }

    private int FirstExtentEndingAfter(long offset)
    {
        int low = 0;
        int high = _extents.Count;
        while (low < high)
        {
            int middle = (low + high) >>> 1;
            if (_extents[middle].End <= offset)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}
