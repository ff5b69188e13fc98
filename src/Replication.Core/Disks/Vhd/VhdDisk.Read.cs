using System.Buffers;
using System.Runtime.CompilerServices;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    /// <inheritdoc />
    protected override void ReadCore(long offset, Span<byte> destination)
    {
        if (_diskType == DiskType.Fixed)
        {
            _file.ReadExactly(offset, destination, "VHD fixed disk data");
            return;
        }

        while (!destination.IsEmpty)
        {
            int block = (int)(offset >> _blockShift);
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = (int)Math.Min(destination.Length, _blockSize - inBlock);
            ReadBlock(block, inBlock, destination[..n]);
            offset += n;
            destination = destination[n..];
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// A fixed disk, a block known to be fully written and a parent's data are read asynchronously; a block whose sector
    /// bitmap is not cached yet is read as <see cref="ReadCore"/> does (the bitmap, then runs of sectors).
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_diskType == DiskType.Fixed)
        {
            await _file.ReadExactlyAsync(offset, destination, "VHD fixed disk data", cancellationToken).ConfigureAwait(false);
            return;
        }

        while (!destination.IsEmpty)
        {
            int block = (int)(offset >> _blockShift);
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = (int)Math.Min(destination.Length, _blockSize - inBlock);
            Memory<byte> part = destination[..n];
            uint entry = Volatile.Read(ref _bat[block]);
            if (entry == VhdLayout.Unallocated)
            {
                await ReadBackingAsync(((long)block << _blockShift) + inBlock, part, cancellationToken).ConfigureAwait(false);
            }
            else if (IsFull(block))
            {
                await _file.ReadExactlyAsync(BlockFileOffset(entry) + _bitmapSize + inBlock, part, DataField, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                ReadBlock(block, inBlock, part.Span);
            }

            offset += n;
            destination = destination[n..];
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadBackingAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_parent is null || offset >= _parent.VirtualSize)
        {
            destination.Span.Clear();
            return;
        }

        int n = (int)Math.Min(destination.Length, _parent.VirtualSize - offset);
        await _parent.ReadAsync(offset, destination[..n], cancellationToken).ConfigureAwait(false);
        destination.Span[n..].Clear();
    }

    /// <summary>Reads a range inside one block: from the file where the sector bitmap says so, else from the parent or as zeros, in runs of sectors.</summary>
    private void ReadBlock(int block, int inBlock, Span<byte> destination)
    {
        uint entry = Volatile.Read(ref _bat[block]);
        long blockStart = (long)block << _blockShift;
        if (entry == VhdLayout.Unallocated)
        {
            ReadBacking(blockStart + inBlock, destination);
            return;
        }

        long data = BlockFileOffset(entry) + _bitmapSize;
        if (IsFull(block))
        {
            _file.ReadExactly(data + inBlock, destination, DataField);
            return;
        }

        byte[] bitmap = ArrayPool<byte>.Shared.Rent(_bitmapSize);
        try
        {
            if (ReadBitmap(block, entry, bitmap))
            {
                _file.ReadExactly(data + inBlock, destination, DataField);
                return;
            }

            int end = inBlock + destination.Length;
            int sector = inBlock >> SectorShift;
            int endSector = ((end - 1) >> SectorShift) + 1;
            while (sector < endSector)
            {
                bool present = VhdSectorBitmap.IsSet(bitmap, sector);
                int runEnd = VhdSectorBitmap.NextDifferent(bitmap, sector, endSector, present);
                int from = Math.Max(sector << SectorShift, inBlock);
                int to = Math.Min(runEnd << SectorShift, end);
                Span<byte> part = destination.Slice(from - inBlock, to - from);
                if (present)
                {
                    _file.ReadExactly(data + from, part, DataField);
                }
                else
                {
                    ReadBacking(blockStart + from, part);
                }

                sector = runEnd;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bitmap);
        }
    }

    /// <summary>
    /// Reads a block's sector bitmap into <paramref name="bitmap"/>; returns true (and remembers it) when every sector
    /// of the block is present.
    /// </summary>
    private bool ReadBitmap(int block, uint entry, byte[] bitmap)
    {
        _file.ReadExactly(BlockFileOffset(entry), bitmap.AsSpan(0, _bitmapSize), BitmapField);
        if (VhdSectorBitmap.AllSet(bitmap, 0, _sectorsPerBlock))
        {
            MarkFull(block);
            return true;
        }

        return false;
    }

    /// <summary>What a sector not present in this file reads as: the parent's data, or zeros (past the parent's end too).</summary>
    private void ReadBacking(long offset, Span<byte> destination)
    {
        if (_parent is null || offset >= _parent.VirtualSize)
        {
            destination.Clear();
            return;
        }

        int n = (int)Math.Min(destination.Length, _parent.VirtualSize - offset);
        _parent.Read(offset, destination[..n]);
        destination[n..].Clear();
    }
}
