using System.Buffers;

namespace Replication.Core.ChangeTracking.Hrl;

public sealed partial class HrlReader
{
    private const int ScanChunkSize = 1 << 20;

    /// <summary>
    /// Finds the longest valid prefix of the log by scanning it forwards, for a log that was not closed cleanly (it
    /// works on a sealed log too). Use <see cref="ReadRecords(HrlRecoveryResult)"/> to read the records it covers.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A metadata block is accepted at a 512-byte boundary when its header and entries are valid, it points back
    /// either to nothing (a first block, whose data starts after the header) or to a block already accepted, its
    /// entries' lengths add up exactly to the space since that block, and every recorded <c>DataChecksum</c> matches
    /// the data. The prefix ends at the last block accepted: the end of the last batch that was completely written.
    /// A torn batch (data without its block, or a block whose data is incomplete) is never accepted.
    /// </para>
    /// <para>
    /// Because a block may point back to any accepted block, data that merely looks like a metadata block (a log
    /// written by a nested guest, say) cannot hide the real blocks after it. What the format cannot tell apart is a
    /// torn tail whose data happens to contain a valid-looking block that points back exactly at the last real one.
    /// </para>
    /// <para>
    /// Reads the whole file once, sequentially. Memory: one 1 MiB buffer plus 4 bytes per 512 bytes scanned (a running
    /// byte sum per sector, so each checksum is verified in constant time) and one small record per accepted block.
    /// </para>
    /// </remarks>
    /// <exception cref="OperationCanceledException">The scan was cancelled.</exception>
    public HrlRecoveryResult Recover(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        long fileLength = CurrentLength();
        long scanEnd = fileLength - (fileLength % HrlFormat.SectorSize);
        var sums = new SectorSums();
        var accepted = new Dictionary<long, ChainLink>();
        long last = -1;
        byte[] chunk = ArrayPool<byte>.Shared.Rent(ScanChunkSize);
        byte[] block = ArrayPool<byte>.Shared.Rent(_metadataSize);
        try
        {
            uint running = 0;
            long chunkStart = HrlFormat.HeaderSize;
            while (chunkStart < scanEnd)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int wanted = (int)Math.Min(ScanChunkSize, scanEnd - chunkStart);
                int read = ReadAtMost(chunkStart, chunk.AsSpan(0, wanted));
                read -= read % HrlFormat.SectorSize;
                for (int offset = 0; offset < read; offset += HrlFormat.SectorSize)
                {
                    long position = chunkStart + offset;
                    ReadOnlySpan<byte> sector = chunk.AsSpan(offset, HrlFormat.SectorSize);

                    // The running sum up to this sector boundary, so data checksums of blocks found here and later
                    // come from differences of these sums.
                    sums.Add(running);
                    if (position + _metadataSize <= fileLength &&
                        HrlMetadataHeader.TryRead(sector, out HrlMetadataHeader header) &&
                        header.ValidMetadataEntries <= (uint)_capacity &&
                        TryAcceptBlock(position, header, block, sums, accepted))
                    {
                        last = position;
                    }

                    running += HrlChecksum.Sum(sector);
                }

                if (read < wanted)
                {
                    // The file shrank while it was scanned: what is gone is not part of the prefix.
                    break;
                }

                chunkStart += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
            ArrayPool<byte>.Shared.Return(block);
        }

        if (last < 0)
        {
            return new HrlRecoveryResult(HrlFormat.HeaderSize, fileLength, 0, 0);
        }

        ChainLink link = accepted[last];
        return new HrlRecoveryResult(last + _metadataSize, fileLength, link.BlockCount, link.RecordCount);
    }

    private bool TryAcceptBlock(long position, HrlMetadataHeader header, byte[] buffer, SectorSums sums, Dictionary<long, ChainLink> accepted)
    {
        ulong previous = header.PreviousMetadataLocation;
        long dataStart;
        ChainLink predecessor = default;
        if (previous == 0)
        {
            dataStart = HrlFormat.HeaderSize;
        }
        else
        {
            if (previous % HrlFormat.SectorSize != 0 || previous < (ulong)_metadataSize || previous > (ulong)(position - HrlFormat.HeaderSize))
            {
                return false;
            }

            long predecessorPosition = position - (long)previous;
            if (!accepted.TryGetValue(predecessorPosition, out predecessor))
            {
                return false;
            }

            dataStart = predecessorPosition + _metadataSize;
        }

        int count = (int)header.ValidMetadataEntries;
        Span<byte> used = buffer.AsSpan(0, HrlMetadataHeader.Size + (count * HrlMetadataEntry.Size));
        if (ReadAtMost(position, used) != used.Length || !HrlMetadataHeader.TryRead(used, out HrlMetadataHeader reread) || reread != header)
        {
            return false;
        }

        long total = 0;
        for (int i = 0; i < count; i++)
        {
            if (!HrlMetadataEntry.TryRead(used.Slice(HrlMetadataHeader.Size + (i * HrlMetadataEntry.Size)), out HrlMetadataEntry entry))
            {
                return false;
            }

            total += entry.DataLength;
        }

        if (total != position - dataStart)
        {
            return false;
        }

        long dataOffset = dataStart;
        for (int i = 0; i < count; i++)
        {
            HrlMetadataEntry.TryRead(used.Slice(HrlMetadataHeader.Size + (i * HrlMetadataEntry.Size)), out HrlMetadataEntry entry);
            long end = dataOffset + entry.DataLength;
            if (entry.DataChecksum != 0 && ~(sums.At(end) - sums.At(dataOffset)) != entry.DataChecksum)
            {
                return false;
            }

            dataOffset = end;
        }

        accepted[position] = new ChainLink(predecessor.BlockCount + 1, predecessor.RecordCount + count);
        return true;
    }

    /// <summary>Counts along the chain of accepted blocks ending at a block.</summary>
    private readonly record struct ChainLink(long BlockCount, long RecordCount);

    /// <summary>
    /// The running 32-bit byte sum of the file at each 512-byte boundary from the header on, in chunks allocated as
    /// the scan advances (never sized from a field of the file).
    /// </summary>
    private sealed class SectorSums
    {
        private const int ChunkShift = 16;
        private const int ChunkLength = 1 << ChunkShift;
        private const int ChunkMask = ChunkLength - 1;
        private readonly List<uint[]> _chunks = [];
        private long _count;

        public void Add(uint runningSum)
        {
            int chunk = (int)(_count >> ChunkShift);
            if (chunk == _chunks.Count)
            {
                _chunks.Add(new uint[ChunkLength]);
            }

            _chunks[chunk][_count & ChunkMask] = runningSum;
            _count++;
        }

        /// <summary>The sum of the bytes from the header to <paramref name="boundary"/> (a 512-byte boundary already scanned).</summary>
        public uint At(long boundary)
        {
            long index = (boundary - HrlFormat.HeaderSize) / HrlFormat.SectorSize;
            return _chunks[(int)(index >> ChunkShift)][index & ChunkMask];
        }
    }
}
