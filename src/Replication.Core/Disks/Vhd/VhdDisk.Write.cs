using System.Buffers;
using System.Runtime.CompilerServices;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    /// <inheritdoc />
    /// <remarks>
    /// A fixed disk writes in place. A dynamic or differencing disk writes into the block's data and then sets the
    /// sector bitmap bits of the sectors written (data first, so a crash in between leaves the old content showing).
    /// A sector written only in part whose bit is clear is first filled from the parent (or with zeros). A write of
    /// zeros to an unallocated block allocates nothing when the block already reads as zeros there: always on a dynamic
    /// disk, and on a differencing disk where the parent reports the range as known zero.
    /// </remarks>
    protected override void WriteCore(long offset, ReadOnlySpan<byte> source)
    {
        if (_diskType == DiskType.Fixed)
        {
            _file.Write(offset, source);
            return;
        }

        while (!source.IsEmpty)
        {
            int block = (int)(offset >> _blockShift);
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = (int)Math.Min(source.Length, _blockSize - inBlock);
            WriteBlock(block, inBlock, source[..n]);
            offset += n;
            source = source[n..];
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// A fixed disk and a block known to be fully written are written asynchronously; a write that allocates a block or
    /// sets sector bitmap bits does so as <see cref="WriteCore"/> does.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (_diskType == DiskType.Fixed)
        {
            await _file.WriteAsync(offset, source, cancellationToken).ConfigureAwait(false);
            return;
        }

        while (!source.IsEmpty)
        {
            int block = (int)(offset >> _blockShift);
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = (int)Math.Min(source.Length, _blockSize - inBlock);
            uint entry = Volatile.Read(ref _bat[block]);
            if (entry != VhdLayout.Unallocated && IsFull(block))
            {
                await _file.WriteAsync(BlockFileOffset(entry) + _bitmapSize + inBlock, source[..n], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                WriteBlock(block, inBlock, source[..n].Span);
            }

            offset += n;
            source = source[n..];
        }
    }

    private void WriteBlock(int block, int inBlock, ReadOnlySpan<byte> source)
    {
        uint entry = Volatile.Read(ref _bat[block]);
        if (entry == VhdLayout.Unallocated)
        {
            if (!source.ContainsAnyExcept((byte)0) && BackingIsKnownZero(((long)block << _blockShift) + inBlock, source.Length))
            {
                return;
            }

            if (TryAllocate(block, inBlock, source))
            {
                return;
            }

            // Another thread allocated the block first; write into it like any allocated block.
            entry = Volatile.Read(ref _bat[block]);
        }

        long data = BlockFileOffset(entry) + _bitmapSize;
        if (IsFull(block))
        {
            _file.Write(data + inBlock, source);
            return;
        }

        int first = inBlock >> SectorShift;
        int end = ((inBlock + source.Length - 1) >> SectorShift) + 1;
        byte[] bitmap = ArrayPool<byte>.Shared.Rent(_bitmapSize);
        try
        {
            if (ReadBitmap(block, entry, bitmap) || VhdSectorBitmap.AllSet(bitmap, first, end))
            {
                _file.Write(data + inBlock, source);
                return;
            }

            lock (BlockLock(block))
            {
                // Re-read under the lock: a writer of a neighbouring range may have set bits meanwhile, and its
                // sectors must not be filled from the parent again.
                ReadBitmap(block, entry, bitmap);
                WriteSectors(block, data, inBlock, source, bitmap);
                if (!VhdSectorBitmap.AllSet(bitmap, first, end))
                {
                    VhdSectorBitmap.SetRange(bitmap, first, end);
                    int firstByte = first >> 3;
                    int lastByte = (end - 1) >> 3;
                    _file.Write(BlockFileOffset(entry) + firstByte, bitmap.AsSpan(firstByte, lastByte - firstByte + 1));
                }

                if (VhdSectorBitmap.AllSet(bitmap, 0, _sectorsPerBlock))
                {
                    MarkFull(block);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bitmap);
        }
    }

    /// <summary>
    /// Writes <paramref name="source"/> at <paramref name="inBlock"/> of a block whose data starts at
    /// <paramref name="data"/>. Whole sectors are written as they are; a partial sector is written as it is when
    /// present in the file, else completed from the parent or zeros and written whole. <paramref name="bitmap"/> null
    /// means no sector is present (a new block).
    /// </summary>
    private void WriteSectors(int block, long data, int inBlock, ReadOnlySpan<byte> source, byte[]? bitmap)
    {
        int start = inBlock;
        int end = inBlock + source.Length;
        int alignedStart = (start + SectorSize - 1) & ~(SectorSize - 1);
        int alignedEnd = end & ~(SectorSize - 1);
        if (alignedStart > alignedEnd)
        {
            // Inside one sector, touching neither of its edges.
            WritePartialSector(block, data, start, source, bitmap);
            return;
        }

        if (start < alignedStart)
        {
            WritePartialSector(block, data, start, source[..(alignedStart - start)], bitmap);
        }

        if (alignedEnd > alignedStart)
        {
            _file.Write(data + alignedStart, source.Slice(alignedStart - start, alignedEnd - alignedStart));
        }

        if (end > alignedEnd)
        {
            WritePartialSector(block, data, alignedEnd, source[(alignedEnd - start)..], bitmap);
        }
    }

    /// <summary>True when the range reads as zeros while this file does not hold it.</summary>
    private bool BackingIsKnownZero(long offset, int length)
    {
        if (_parent is null || offset >= _parent.VirtualSize)
        {
            return true;
        }

        return _parent.IsKnownZero(offset, Math.Min(length, _parent.VirtualSize - offset));
    }

    private void WritePartialSector(int block, long data, int inBlock, ReadOnlySpan<byte> source, byte[]? bitmap)
    {
        int sector = inBlock >> SectorShift;
        if (bitmap is not null && VhdSectorBitmap.IsSet(bitmap, sector))
        {
            _file.Write(data + inBlock, source);
            return;
        }

        Span<byte> buffer = stackalloc byte[SectorSize];
        int sectorStart = sector << SectorShift;
        ReadBacking(((long)block << _blockShift) + sectorStart, buffer);
        source.CopyTo(buffer[(inBlock - sectorStart)..]);
        _file.Write(data + sectorStart, buffer);
    }
}
