using System.Buffers;
using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    /// <summary>
    /// Allocates <paramref name="block"/> at the end of the file and writes <paramref name="source"/> into it; false when
    /// another thread allocated it first.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The file stays valid after a crash at any point, without relying on the footer copy at offset 0:
    /// </para>
    /// <list type="number">
    /// <item>The footer is written at the block's end, the new end of the file, and flushed. The old footer, now in the
    /// middle, is unreferenced space; the footer at the end is valid.</item>
    /// <item>The sector bitmap is written over the old footer and the written sectors after it; the rest of the block
    /// was never written and reads as zeros (the file was extended, sparse where the file system allows). A dynamic
    /// block gets an all-ones bitmap (its unwritten sectors are zeros in the file, as QEMU does); a differencing block
    /// gets bits for the written sectors only, so the others still read from the parent. Then a flush, so the block is
    /// durable before anything references it.</item>
    /// <item>The table entry is written (a 4-byte write inside one sector). It is made durable by the next
    /// <see cref="VirtualDisk.Flush"/>, like the data written into the block: until then a crash loses the write, never
    /// the file.</item>
    /// </list>
    /// </remarks>
    private bool TryAllocate(int block, int inBlock, ReadOnlySpan<byte> source)
    {
        lock (_allocationLock)
        {
            if (Volatile.Read(ref _bat[block]) != VhdLayout.Unallocated)
            {
                return false;
            }

            long blockOffset = _nextBlockOffset;
            long footerOffset = blockOffset + _bitmapSize + _blockSize;
            if (blockOffset >> SectorShift >= VhdLayout.Unallocated)
            {
                throw new IOException($"{_file.Path}: the file has reached the 2 TiB its block allocation table can address.");
            }

            _file.Write(footerOffset, _layout.FooterBytes);
            _file.Flush();

            // From here the space before the new footer is the file's; should a later step fail, the next allocation
            // starts after it rather than over data a half-done block may have left there.
            _nextBlockOffset = footerOffset;

            byte[] bitmap = ArrayPool<byte>.Shared.Rent(_bitmapSize);
            try
            {
                Span<byte> bits = bitmap.AsSpan(0, _bitmapSize);
                if (_parent is null)
                {
                    bits.Fill(0xFF);
                }
                else
                {
                    bits.Clear();
                    VhdSectorBitmap.SetRange(bits, inBlock >> SectorShift, ((inBlock + source.Length - 1) >> SectorShift) + 1);
                }

                _file.Write(blockOffset, bits);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(bitmap);
            }

            WriteSectors(block, blockOffset + _bitmapSize, inBlock, source, bitmap: null);
            _file.Flush();

            uint sector = (uint)(blockOffset >> SectorShift);
            Span<byte> entry = stackalloc byte[sizeof(uint)];
            BinaryPrimitives.WriteUInt32BigEndian(entry, sector);
            _file.Write(_layout.BatOffset + (sizeof(uint) * (long)block), entry);
            if (_parent is null)
            {
                MarkFull(block);
            }

            Volatile.Write(ref _bat[block], sector);
            Interlocked.Add(ref _allocatedBytes, BlockLength(block));
            return true;
        }
    }
}
