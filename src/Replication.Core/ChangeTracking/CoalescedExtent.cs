namespace Replication.Core.ChangeTracking;

/// <summary>
/// One extent of <see cref="CoalescedChanges"/>: the bytes [<see cref="DiskOffset"/>, <see cref="End"/>) of the disk,
/// whose newest data lies contiguously in log <see cref="LogIndex"/> from <see cref="FileOffset"/>.
/// </summary>
/// <param name="DiskOffset">First byte of the extent on the virtual disk; a multiple of 512.</param>
/// <param name="Length">Length in bytes; a positive multiple of 512.</param>
/// <param name="LogIndex">Index, in <see cref="CoalescedChanges.Logs"/>, of the log holding the newest data of the extent.</param>
/// <param name="FileOffset">Offset in that log file of the extent's first byte.</param>
public readonly record struct CoalescedExtent(long DiskOffset, long Length, int LogIndex, long FileOffset)
{
    /// <summary>The first byte after the extent on the disk.</summary>
    public long End => DiskOffset + Length;
}
