using System.Buffers;
using System.Runtime.CompilerServices;

namespace Replication.Core.Disks.Vhdx;

internal sealed partial class VhdxDisk
{
    /// <inheritdoc />
    protected override void WriteCore(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfFailed();
        EnsureDataWriteGuid();
        bool locked = false;
        VhdxMetadataTransaction? transaction = null;
        try
        {
            while (!source.IsEmpty)
            {
                long block = offset / _blockSize;
                int inBlock = (int)(offset % _blockSize);
                int count = (int)Math.Min(source.Length, _blockSize - inBlock);
                ReadOnlySpan<byte> part = source[..count];
                if (!locked)
                {
                    VhdxBatEntry entry = PayloadEntry(block);
                    if (entry.State == VhdxBatEntry.PayloadFullyPresent)
                    {
                        // A fully present block never moves or changes state, so no lock is needed to write into it.
                        _file.Write((long)entry.FileOffset + inBlock, part);
                        offset += count;
                        source = source[count..];
                        continue;
                    }

                    _lock.Enter();
                    locked = true;
                    ThrowIfFailed();
                    transaction = new VhdxMetadataTransaction();
                }

                WriteBlockLocked(block, inBlock, part, transaction!);
                if (transaction!.SectorCount > _log.MaxDataSectors - MaxSectorsPerBlockUpdate())
                {
                    CommitLocked(transaction);
                }

                offset += count;
                source = source[count..];
            }

            if (transaction is { IsEmpty: false })
            {
                CommitLocked(transaction);
            }
        }
        catch when (locked)
        {
            // Blocks may have been allocated or metadata half-committed: stop accepting writes rather than guess.
            _failed = true;
            throw;
        }
        finally
        {
            if (locked)
            {
                _lock.Exit();
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The DataWriteGuid is renewed first, as for every write. Fully present blocks are then written asynchronously; from
    /// the first block that is not, the rest is written as <see cref="WriteCore"/> does (allocation and metadata through
    /// the log, under the lock).
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        EnsureDataWriteGuid();
        while (!source.IsEmpty)
        {
            long block = offset / _blockSize;
            int inBlock = (int)(offset % _blockSize);
            int count = (int)Math.Min(source.Length, _blockSize - inBlock);
            VhdxBatEntry entry = PayloadEntry(block);
            if (entry.State != VhdxBatEntry.PayloadFullyPresent)
            {
                WriteCore(offset, source.Span);
                return;
            }

            // A fully present block never moves or changes state, so no lock is needed to write into it.
            await _file.WriteAsync((long)entry.FileOffset + inBlock, source[..count], cancellationToken).ConfigureAwait(false);
            offset += count;
            source = source[count..];
        }
    }

    /// <summary>The most metadata sectors one block's update can change: two BAT sectors and the block's bitmap bytes.</summary>
    private int MaxSectorsPerBlockUpdate() => 2 + 1 + (_sectorsPerBlock / 8 / VhdxLayout.LogSectorSize);

    private void WriteBlockLocked(long block, int inBlock, ReadOnlySpan<byte> data, VhdxMetadataTransaction transaction)
    {
        long payloadIndex = PayloadIndex(block);
        VhdxBatEntry entry = BatEntryLocked(payloadIndex, transaction);
        if (entry.State == VhdxBatEntry.PayloadFullyPresent)
        {
            _file.Write((long)entry.FileOffset + inBlock, data);
            return;
        }

        if (_log.MaxDataSectors < MaxSectorsPerBlockUpdate())
        {
            throw new ReplicationException(
                ReplicationErrorCode.NotSupported,
                false,
                $"{_file.Path}: the VHDX log ({_headers.Current.LogLength} bytes) is too small to update the BAT safely, so no block can be allocated.");
        }

        long chunk = block / _chunkRatio;
        int firstSector = inBlock / _logicalSectorSize;
        int endSector = (inBlock + data.Length + _logicalSectorSize - 1) / _logicalSectorSize;
        if (entry.State == VhdxBatEntry.PayloadPartiallyPresent)
        {
            long bitmapOffset = (long)BatEntryLocked(BitmapIndex(chunk), transaction).FileOffset;
            WriteSectorsMerged(block, (long)entry.FileOffset, bitmapOffset, inBlock, data, transaction);
            SetBitsLocked(bitmapOffset, block, firstSector, endSector, true, transaction);
            PromoteIfFullLocked(block, payloadIndex, entry, bitmapOffset, transaction);
            return;
        }

        if (entry.State == VhdxBatEntry.PayloadNotPresent && _hasParent)
        {
            // New partially present block: only the written sectors come from this file, the rest stay in the parent.
            long bitmapOffset = EnsureBitmapBlockLocked(chunk, transaction);
            long blockOffset = AllocateLocked(_blockSize);
            SetBitsLocked(bitmapOffset, block, 0, _sectorsPerBlock, false, transaction);
            WriteSectorsMerged(block, blockOffset, bitmapOffset, inBlock, data, transaction);
            SetBitsLocked(bitmapOffset, block, firstSector, endSector, true, transaction);
            var partial = VhdxBatEntry.Create(VhdxBatEntry.PayloadPartiallyPresent, blockOffset);
            SetBatEntryLocked(payloadIndex, partial, transaction);
            PromoteIfFullLocked(block, payloadIndex, partial, bitmapOffset, transaction);
            return;
        }

        // Absent (no parent), zero, unmapped or undefined: the block reads as zeros, so writing zeros changes nothing
        // and need not allocate it. Otherwise every byte not written must read as zero, which is what a freshly
        // extended file holds.
        if (!data.ContainsAnyExcept((byte)0))
        {
            return;
        }

        long newOffset = AllocateLocked(_blockSize);
        _file.Write(newOffset + inBlock, data);
        SetBatEntryLocked(payloadIndex, VhdxBatEntry.Create(VhdxBatEntry.PayloadFullyPresent, newOffset), transaction);
    }

    /// <summary>
    /// Writes <paramref name="data"/> into a partially present block. Whole sectors are written as they are; a
    /// partial sector whose bit is clear is first filled from the parent, because once its bit is set all of it is
    /// read from this file.
    /// </summary>
    private void WriteSectorsMerged(long block, long blockOffset, long bitmapOffset, int inBlock, ReadOnlySpan<byte> data, VhdxMetadataTransaction transaction)
    {
        int sectorSize = _logicalSectorSize;
        int position = inBlock;
        int within = position % sectorSize;
        if (within != 0 || data.Length < sectorSize)
        {
            int take = Math.Min(sectorSize - within, data.Length);
            WritePartialSector(block, blockOffset, bitmapOffset, position - within, within, data[..take], transaction);
            position += take;
            data = data[take..];
        }

        int whole = data.Length / sectorSize * sectorSize;
        if (whole > 0)
        {
            _file.Write(blockOffset + position, data[..whole]);
            position += whole;
            data = data[whole..];
        }

        if (!data.IsEmpty)
        {
            WritePartialSector(block, blockOffset, bitmapOffset, position, 0, data, transaction);
        }
    }

    private void WritePartialSector(
        long block, long blockOffset, long bitmapOffset, int sectorStart, int within, ReadOnlySpan<byte> data, VhdxMetadataTransaction transaction)
    {
        if (IsBitSetLocked(bitmapOffset, block, sectorStart / _logicalSectorSize, transaction))
        {
            _file.Write(blockOffset + sectorStart + within, data);
            return;
        }

        byte[] sector = ArrayPool<byte>.Shared.Rent(_logicalSectorSize);
        try
        {
            Span<byte> merged = sector.AsSpan(0, _logicalSectorSize);
            ReadParent((block * _blockSize) + sectorStart, merged);
            data.CopyTo(merged[within..]);
            _file.Write(blockOffset + sectorStart, merged);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sector);
        }
    }

    /// <summary>Marks a partially present block fully present once every one of its bits is set, so reads stop consulting the bitmap.</summary>
    private void PromoteIfFullLocked(long block, long payloadIndex, VhdxBatEntry entry, long bitmapOffset, VhdxMetadataTransaction transaction)
    {
        int bytes = _sectorsPerBlock / 8;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            ReadMetadataLocked(BitmapByteOffset(bitmapOffset, block), buffer.AsSpan(0, bytes), transaction);
            if (!buffer.AsSpan(0, bytes).ContainsAnyExcept((byte)0xFF))
            {
                SetBatEntryLocked(payloadIndex, VhdxBatEntry.Create(VhdxBatEntry.PayloadFullyPresent, (long)entry.FileOffset), transaction);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private long EnsureBitmapBlockLocked(long chunk, VhdxMetadataTransaction transaction)
    {
        long index = BitmapIndex(chunk);
        VhdxBatEntry entry = BatEntryLocked(index, transaction);
        if (entry.State == VhdxBatEntry.BitmapPresent)
        {
            return (long)entry.FileOffset;
        }

        // A new bitmap block is zero (every sector in the parent), as the extended file reads.
        long offset = AllocateLocked(VhdxLayout.SectorBitmapBlockSize);
        SetBatEntryLocked(index, VhdxBatEntry.Create(VhdxBatEntry.BitmapPresent, offset), transaction);
        return offset;
    }

    /// <summary>Appends <paramref name="length"/> bytes (a multiple of 1 MiB) at the end of the file and returns their offset.</summary>
    private long AllocateLocked(long length)
    {
        long offset = _fileEnd;
        _file.SetLength(offset + length);
        _fileEnd = offset + length;
        return offset;
    }

    private VhdxBatEntry BatEntryLocked(long index, VhdxMetadataTransaction transaction) =>
        new(transaction.TryGetBatEntry(index, out ulong pending) ? pending : _bat[index]);

    private void SetBatEntryLocked(long index, VhdxBatEntry entry, VhdxMetadataTransaction transaction)
    {
        transaction.SetBatEntry(index, entry.Value);
        long byteOffset = _batOffset + (index * VhdxBatEntry.Size);
        long sectorOffset = byteOffset & ~(long)(VhdxLayout.LogSectorSize - 1);
        byte[] sector = transaction.GetForUpdate(sectorOffset, LoadSector);
        entry.WriteTo(sector.AsSpan((int)(byteOffset - sectorOffset)));
    }

    private bool IsBitSetLocked(long bitmapOffset, long block, int sector, VhdxMetadataTransaction transaction)
    {
        Span<byte> one = stackalloc byte[1];
        ReadMetadataLocked(BitmapByteOffset(bitmapOffset, block) + (sector / 8), one, transaction);
        return (one[0] & (1 << (sector & 7))) != 0;
    }

    /// <summary>Sets or clears the bits of sectors [<paramref name="firstSector"/>, <paramref name="endSector"/>) of <paramref name="block"/>.</summary>
    private void SetBitsLocked(long bitmapOffset, long block, int firstSector, int endSector, bool value, VhdxMetadataTransaction transaction)
    {
        long blockBits = BitmapByteOffset(bitmapOffset, block) * 8;
        long bit = blockBits + firstSector;
        long end = blockBits + endSector;
        while (bit < end)
        {
            long sectorOffset = (bit / 8) & ~(long)(VhdxLayout.LogSectorSize - 1);
            long sectorEndBit = (sectorOffset + VhdxLayout.LogSectorSize) * 8;
            byte[] sector = transaction.GetForUpdate(sectorOffset, LoadSector);
            for (; bit < end && bit < sectorEndBit; bit++)
            {
                int index = (int)((bit / 8) - sectorOffset);
                byte mask = (byte)(1 << (int)(bit & 7));
                sector[index] = value ? (byte)(sector[index] | mask) : (byte)(sector[index] & ~mask);
            }
        }
    }

    /// <summary>Reads metadata as the transaction has left it: its changed sectors, else the file.</summary>
    private void ReadMetadataLocked(long offset, Span<byte> destination, VhdxMetadataTransaction transaction)
    {
        while (!destination.IsEmpty)
        {
            long sectorOffset = offset & ~(long)(VhdxLayout.LogSectorSize - 1);
            int within = (int)(offset - sectorOffset);
            int count = Math.Min(destination.Length, VhdxLayout.LogSectorSize - within);
            byte[]? pending = transaction.Find(sectorOffset);
            if (pending is not null)
            {
                pending.AsSpan(within, count).CopyTo(destination);
            }
            else
            {
                _view.Read(offset, destination[..count], "VHDX metadata sector");
            }

            offset += count;
            destination = destination[count..];
        }
    }

    private void LoadSector(long fileOffset, byte[] sector) => _view.Read(fileOffset, sector, "VHDX metadata sector");
}
