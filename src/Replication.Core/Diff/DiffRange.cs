namespace Replication.Core.Diff;

/// <summary>A run of fine blocks that differ, and whether the source reads as zeros there (then no data need be sent).</summary>
/// <param name="Offset">First byte of the run on the virtual disk (a multiple of the fine block size).</param>
/// <param name="Length">Bytes in the run (whole fine blocks, the disk's last one possibly short).</param>
/// <param name="IsZero">True when the source reads as zeros over the whole run.</param>
internal readonly record struct DiffRange(long Offset, long Length, bool IsZero)
{
    public long End => Offset + Length;
}
