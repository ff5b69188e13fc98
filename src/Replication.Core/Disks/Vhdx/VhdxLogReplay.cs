using System.Buffers;
using System.Buffers.Binary;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// One update found in the log: zero <see cref="Length"/> bytes at <see cref="FileOffset"/>, or write the 4 KiB
/// <see cref="Data"/> there.
/// </summary>
internal readonly record struct VhdxLogOperation(long FileOffset, long Length, byte[]? Data);

/// <summary>
/// Finds the active sequence of a non-empty log ([MS-VHDX] 2.3.3) and turns it into the updates to replay, in order.
/// </summary>
/// <remarks>
/// Every field that sizes a read or a loop is checked before use: entry length against the log, descriptor count
/// against the entry length, descriptor targets against the header section and the log, and the number of data
/// sectors against the entry length. An entry is read sector by sector and each sector must carry the signature its
/// place requires ("desc"/"zero", "data") before the next is read, so a position that is not the start of an entry
/// fails on its first sector; with each position validated at most once (memoised), the whole scan reads the log a
/// bounded number of times.
/// </remarks>
internal sealed class VhdxLogReplay
{
    private const int Sector = VhdxLayout.LogSectorSize;

    private readonly DiskFile _file;
    private readonly long _logOffset;
    private readonly int _logLength;
    private readonly Guid _logGuid;
    private readonly Dictionary<int, Entry?> _validated = [];

    private VhdxLogReplay(DiskFile file, long logOffset, int logLength, Guid logGuid)
    {
        _file = file;
        _logOffset = logOffset;
        _logLength = logLength;
        _logGuid = logGuid;
    }

    /// <summary>The updates of the active sequence, tail entry first.</summary>
    public IReadOnlyList<VhdxLogOperation> Operations { get; private set; } = [];

    /// <summary>The head entry's FlushedFileOffset: the file must be at least this long.</summary>
    public long FlushedFileOffset { get; private set; }

    /// <summary>The head entry's LastFileOffset: the file is extended to at least this length.</summary>
    public long LastFileOffset { get; private set; }

    /// <summary>The head entry's sequence number.</summary>
    public ulong HeadSequenceNumber { get; private set; }

    /// <summary>Number of entries in the active sequence.</summary>
    public int EntryCount { get; private set; }

    /// <summary>
    /// Scans the log at <paramref name="logOffset"/> for the newest valid, complete sequence written under
    /// <paramref name="logGuid"/>.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">No valid sequence exists, or the file is shorter than the head entry says it was.</exception>
    public static VhdxLogReplay Find(DiskFile file, long logOffset, int logLength, Guid logGuid)
    {
        var replay = new VhdxLogReplay(file, logOffset, logLength, logGuid);
        replay.Search();
        return replay;
    }

    /// <summary>
    /// Writes every update to the file, extends it to the head entry's LastFileOffset, and flushes. Zeroing past the
    /// end of the file is done by extending it, so the bytes written never exceed the file's length plus the log.
    /// </summary>
    public void ApplyTo(DiskFile file)
    {
        byte[] zeros = ArrayPool<byte>.Shared.Rent(VhdxLayout.MiB);
        try
        {
            Array.Clear(zeros);
            foreach (VhdxLogOperation op in Operations)
            {
                if (op.Data is not null)
                {
                    file.Write(op.FileOffset, op.Data);
                    continue;
                }

                long end = op.FileOffset + op.Length;
                long length = file.Length;
                if (end > length)
                {
                    file.SetLength(end);
                }

                for (long at = op.FileOffset; at < Math.Min(end, length); at += VhdxLayout.MiB)
                {
                    file.Write(at, zeros.AsSpan(0, (int)Math.Min(VhdxLayout.MiB, Math.Min(end, length) - at)));
                }
            }

            if (file.Length < LastFileOffset)
            {
                file.SetLength(LastFileOffset);
            }

            file.Flush();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    private void Search()
    {
        List<Entry>? candidate = null;
        var current = new List<Entry>();
        long currentTail = 0;
        while (true)
        {
            current.Clear();
            int position = (int)currentTail;
            long total = 0;
            while (true)
            {
                Entry? entry = Validate(position);
                if (entry is null
                    || (current.Count > 0 && entry.SequenceNumber != current[^1].SequenceNumber + 1)
                    || total + entry.Length > _logLength)
                {
                    break;
                }

                current.Add(entry);
                total += entry.Length;
                position = (int)((position + entry.Length) % _logLength);
            }

            int tailIndex = current.Count == 0 ? -1 : current.FindIndex(e => e.Position == current[^1].Tail);
            if (tailIndex >= 0 && (candidate is null || current[^1].SequenceNumber > candidate[^1].SequenceNumber))
            {
                candidate = current.GetRange(tailIndex, current.Count - tailIndex);
            }

            long next = tailIndex >= 0 ? currentTail + total : currentTail + Sector;
            if (next >= _logLength)
            {
                break;
            }

            currentTail = next;
        }

        if (candidate is null)
        {
            throw new InvalidDiskFormatException(
                _file.Path, _logOffset, "VHDX log", "the header's LogGuid is set but the log holds no valid, complete entry sequence");
        }

        Entry head = candidate[^1];
        if (_file.Length < head.FlushedFileOffset)
        {
            throw new InvalidDiskFormatException(
                _file.Path,
                _logOffset + head.Position + VhdxLogEntryHeader.FlushedFileOffsetOffset,
                "VHDX log entry.FlushedFileOffset",
                $"the file is {_file.Length} bytes but was at least {head.FlushedFileOffset} bytes when the log was written: it has been truncated");
        }

        FlushedFileOffset = head.FlushedFileOffset;
        LastFileOffset = head.LastFileOffset;
        HeadSequenceNumber = head.SequenceNumber;
        EntryCount = candidate.Count;
        var operations = new List<VhdxLogOperation>();
        foreach (Entry entry in candidate)
        {
            CollectOperations(entry, operations);
        }

        Operations = operations;
    }

    private void CollectOperations(Entry entry, List<VhdxLogOperation> operations)
    {
        byte[] descriptors = new byte[Sector];
        byte[] data = new byte[Sector];
        long descriptorSectors = VhdxLogEntryHeader.DescriptorSectors(entry.DescriptorCount);
        long dataIndex = 0;
        for (long i = 0; i < entry.DescriptorCount; i++)
        {
            (long sector, int within) = DescriptorPlace(i);
            if (within == (sector == 0 ? VhdxLogEntryHeader.Size : 0))
            {
                ReadLogSector(entry.Position, sector, descriptors);
            }

            var descriptor = VhdxLogDescriptor.Read(descriptors.AsSpan(within));
            if (descriptor.IsZero)
            {
                operations.Add(new VhdxLogOperation((long)descriptor.FileOffset, (long)descriptor.ZeroLength, null));
            }
            else
            {
                ReadLogSector(entry.Position, descriptorSectors + dataIndex++, data);
                byte[] update = new byte[Sector];
                VhdxLogDataSector.Restore(data, descriptor, update);
                operations.Add(new VhdxLogOperation((long)descriptor.FileOffset, Sector, update));
            }
        }
    }

    private Entry? Validate(int position)
    {
        if (_validated.TryGetValue(position, out Entry? known))
        {
            return known;
        }

        Entry? entry = ValidateUncached(position);
        _validated[position] = entry;
        return entry;
    }

    private Entry? ValidateUncached(int position)
    {
        byte[] first = new byte[Sector];
        byte[] sector = new byte[Sector];
        ReadLogSector(position, 0, first);
        var header = VhdxLogEntryHeader.Read(first);
        if (header.Signature != VhdxLogEntryHeader.ExpectedSignature
            || header.EntryLength == 0
            || header.EntryLength % Sector != 0
            || header.EntryLength > _logLength
            || header.SequenceNumber == 0
            || header.LogGuid != _logGuid
            || header.Tail % Sector != 0
            || header.Tail >= _logLength
            || header.FlushedFileOffset > VhdxLayout.MaxFileOffset
            || header.LastFileOffset > VhdxLayout.MaxFileOffset)
        {
            return null;
        }

        long descriptorSectors = VhdxLogEntryHeader.DescriptorSectors(header.DescriptorCount);
        if (descriptorSectors * Sector > header.EntryLength)
        {
            return null;
        }

        var crc = VhdxChecksum.CreateIncremental();
        BinaryPrimitives.WriteUInt32LittleEndian(first.AsSpan(VhdxLogEntryHeader.ChecksumOffset), 0);
        crc.Append(first);
        long dataSectors = 0;
        for (long i = 0; i < header.DescriptorCount; i++)
        {
            (long index, int within) = DescriptorPlace(i);
            byte[] holder = index == 0 ? first : sector;
            if (index > 0 && within == 0)
            {
                ReadLogSector(position, index, sector);
                crc.Append(sector);
            }

            var descriptor = VhdxLogDescriptor.Read(holder.AsSpan(within));
            if (!IsValidDescriptor(descriptor, header.SequenceNumber))
            {
                return null;
            }

            if (!descriptor.IsZero)
            {
                dataSectors++;
            }
        }

        if ((descriptorSectors + dataSectors) * Sector != header.EntryLength)
        {
            return null;
        }

        for (long k = 0; k < dataSectors; k++)
        {
            ReadLogSector(position, descriptorSectors + k, sector);
            if (!VhdxLogDataSector.IsValid(sector, header.SequenceNumber))
            {
                return null;
            }

            crc.Append(sector);
        }

        if (crc.GetCurrentHashAsUInt32() != header.Checksum)
        {
            return null;
        }

        return new Entry(position, header.EntryLength, header.SequenceNumber, header.Tail, header.DescriptorCount, (long)header.FlushedFileOffset, (long)header.LastFileOffset);
    }

    private bool IsValidDescriptor(in VhdxLogDescriptor descriptor, ulong sequenceNumber)
    {
        if ((descriptor.Signature != VhdxLogDescriptor.ZeroSignature && descriptor.Signature != VhdxLogDescriptor.DataSignature)
            || descriptor.SequenceNumber != sequenceNumber
            || descriptor.FileOffset % Sector != 0
            || descriptor.FileOffset > VhdxLayout.MaxFileOffset)
        {
            return false;
        }

        ulong length = descriptor.IsZero ? descriptor.ZeroLength : Sector;
        if (length % Sector != 0 || length > VhdxLayout.MaxFileOffset - descriptor.FileOffset)
        {
            return false;
        }

        // The log never rewrites the identifier or the headers (they locate the log), nor the log itself, which is
        // still being read while the updates are applied.
        ulong end = descriptor.FileOffset + length;
        return descriptor.FileOffset >= VhdxLayout.RegionTable1Offset
            && (end <= (ulong)_logOffset || descriptor.FileOffset >= (ulong)_logOffset + (ulong)_logLength);
    }

    /// <summary>The descriptor sector holding descriptor <paramref name="index"/> and its byte offset inside that sector.</summary>
    private static (long Sector, int Within) DescriptorPlace(long index)
    {
        // The header takes the room of two descriptors in the first sector.
        long slot = index + 2;
        return (slot / 128, (int)(slot % 128) * VhdxLogDescriptor.Size);
    }

    private void ReadLogSector(int entryPosition, long sectorIndex, Span<byte> destination)
    {
        long position = (entryPosition + (sectorIndex * Sector)) % _logLength;
        _file.ReadExactly(_logOffset + position, destination[..Sector], "VHDX log sector");
    }

    private sealed record Entry(int Position, uint Length, ulong SequenceNumber, uint Tail, uint DescriptorCount, long FlushedFileOffset, long LastFileOffset);
}
