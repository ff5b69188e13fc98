using System.Buffers;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// Reads an HRL log (format version 1 or 2): validates its header when opened, then returns its records in log order
/// with the [MS-HRL] two-pass traversal (from <c>EOLLocation</c> back along <c>PreviousMetadataLocation</c>, then
/// forwards), and reads and verifies their data. <see cref="Recover"/> finds the valid prefix of a log that was not
/// closed cleanly.
/// </summary>
/// <remarks>
/// <para>
/// Every value read from the file is validated before it sizes a buffer, a read or a loop: a corrupt or hostile log
/// fails with <see cref="InvalidLogFormatException"/> naming the file, offset, structure and field, after bounded work
/// and bounded memory. Records are returned only after every metadata block of the log has been validated, so a
/// caller applying them never starts on a log whose metadata is broken. Data checksums are verified as data is read
/// (<see cref="ReadData(in HrlRecord, Span{byte})"/>, <see cref="VerifyData"/>); a zero <c>DataChecksum</c> means "not
/// recorded" (Hyper-V writes 0) and is accepted.
/// </para>
/// <para>
/// The format's checksums are byte sums: they catch any single corrupted byte but not every multi-byte change (a
/// changed <c>ByteOffset</c> with a recomputed entry checksum is valid HRL). Shipped logs are therefore also checked
/// with <see cref="HrlIntegrity"/>.
/// </para>
/// <para>Thread-safe for concurrent reads; the file is opened read-only, shared with other readers only.</para>
/// </remarks>
public sealed partial class HrlReader : IDisposable
{
    private const int DataChunkSize = 1 << 20;
    private const string DataStructureName = "HRL data";
    private const string BlockStructureName = "HRL metadata block";

    private readonly SafeFileHandle _handle;
    private readonly int _metadataSize;
    private readonly int _capacity;
    private readonly StagedFile? _staged;

    private HrlReader(string path, SafeFileHandle handle, HrlFileHeader header, long fileLength, StagedFile? staged = null)
    {
        FilePath = path;
        _handle = handle;
        _staged = staged;
        Header = header;
        FileLength = fileLength;
        _metadataSize = (int)header.MetadataSize;
        _capacity = HrlFormat.EntryCapacity(_metadataSize);
    }

    /// <summary>Full path of the log file.</summary>
    public string FilePath { get; }

    /// <summary>The validated header.</summary>
    public HrlFileHeader Header { get; }

    /// <summary>Length of the file when it was opened.</summary>
    public long FileLength { get; }

    /// <summary>
    /// True when the log was sealed (<c>EOLLocation</c> set). False for a log still being written or left by a crash:
    /// read it with <see cref="Recover"/>.
    /// </summary>
    public bool IsClosedCleanly => Header.IsClosedCleanly;

    /// <summary>Size of each metadata block.</summary>
    public int MetadataSize => _metadataSize;

    /// <summary>Opens a log and validates its header against the file.</summary>
    /// <param name="path">The log file.</param>
    /// <exception cref="InvalidLogFormatException">The file is not a valid HRL log (cookie, version, checksum, a field, or a size beyond the file).</exception>
    /// <exception cref="ReplicationException">The file does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static HrlReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        SafeFileHandle handle = HrlIntegrity.OpenRead(full, FileOptions.RandomAccess, "the log file");
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length < HrlFileHeader.Size)
            {
                throw HeaderCutShort(full, length);
            }

            Span<byte> buffer = stackalloc byte[HrlFileHeader.Size];
            ReadExactly(handle, full, 0, buffer, HrlFileHeader.StructureName, "length");
            HrlFileHeader header = HrlFileHeader.Read(buffer, full);
            ValidateSizes(header, length, full);
            return new HrlReader(full, handle, header, length);
        }
        catch (Exception)
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The records of a sealed log, in log order. Every metadata block is read and validated (checksums, fields, the
    /// chain of locations, data lengths filling exactly the space between blocks, the header's entry count) before
    /// this method returns; enumerating then re-reads each block in order.
    /// </summary>
    /// <exception cref="InvalidLogFormatException">The log was not closed cleanly, or its metadata is invalid.</exception>
    public IEnumerable<HrlRecord> ReadRecords()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (!IsClosedCleanly)
        {
            throw new InvalidLogFormatException(
                FilePath,
                HrlFileHeader.EolLocationOffset,
                HrlFileHeader.StructureName,
                "EOLLocation",
                "the log was not closed cleanly (EOLLocation is 0); read its valid prefix with Recover");
        }

        long[] blocks = CollectBlocks((long)Header.EolLocation, Header.TotalMetadataEntries, out int count, out long total);
        if ((ulong)total != Header.TotalMetadataEntries)
        {
            ArrayPool<long>.Shared.Return(blocks);
            throw new InvalidLogFormatException(
                FilePath,
                HrlFileHeader.TotalMetadataEntriesOffset,
                HrlFileHeader.StructureName,
                "TotalMetadataEntries",
                string.Create(CultureInfo.InvariantCulture, $"the header counts {Header.TotalMetadataEntries} entries but the metadata blocks hold {total}"));
        }

        return EnumerateRecords(new BlockTable(blocks, count, (long)Header.EolLocation, Header.TotalMetadataEntries));
    }

    /// <summary>
    /// The records of the valid prefix that <see cref="Recover"/> found, in log order, validated as by
    /// <see cref="ReadRecords()"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="recovered"/> does not describe a prefix of this file.</exception>
    /// <exception cref="InvalidLogFormatException">The file changed since it was scanned.</exception>
    public IEnumerable<HrlRecord> ReadRecords(HrlRecoveryResult recovered)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (recovered.ValidLength == HrlFormat.HeaderSize && recovered.RecordCount == 0)
        {
            return [];
        }

        if (recovered.ValidLength < HrlFormat.HeaderSize + _metadataSize ||
            recovered.ValidLength % HrlFormat.SectorSize != 0 ||
            recovered.ValidLength > CurrentLength())
        {
            throw new ArgumentException("The recovery result does not describe a prefix of this log.", nameof(recovered));
        }

        long[] blocks = CollectBlocks(recovered.ValidLength, (ulong)recovered.RecordCount, out int count, out long total);
        if (total != recovered.RecordCount)
        {
            ArrayPool<long>.Shared.Return(blocks);
            throw new ArgumentException("The recovery result does not describe a prefix of this log.", nameof(recovered));
        }

        return EnumerateRecords(new BlockTable(blocks, count, recovered.ValidLength, (ulong)recovered.RecordCount));
    }

    /// <summary>
    /// Reads a record's data into <paramref name="destination"/> (exactly <see cref="HrlRecord.Length"/> bytes) and
    /// verifies its <c>DataChecksum</c> when one was recorded.
    /// </summary>
    /// <exception cref="ArgumentException">The destination's length differs from the record's.</exception>
    /// <exception cref="InvalidLogFormatException">The data is cut short or does not match its checksum.</exception>
    public void ReadData(in HrlRecord record, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (destination.Length != record.Length)
        {
            throw new ArgumentException($"The destination must be exactly {record.Length} bytes.", nameof(destination));
        }

        ValidateRecordRange(record);
        ReadAt(record.FileOffset, destination, DataStructureName, "DataLength");
        VerifyDataChecksum(record, HrlChecksum.Sum(destination));
    }

    /// <summary>
    /// Reads part of a record's data, from <paramref name="offsetInRecord"/>, without verifying the checksum (it covers
    /// the whole record): for records too large for one buffer. <see cref="VerifyData"/> checks them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the record.</exception>
    /// <exception cref="InvalidLogFormatException">The file is cut short.</exception>
    public void ReadData(in HrlRecord record, long offsetInRecord, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offsetInRecord);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offsetInRecord, record.Length - destination.Length);
        ValidateRecordRange(record);
        ReadAt(record.FileOffset + offsetInRecord, destination, DataStructureName, "DataLength");
    }

    /// <summary>Asynchronous form of <see cref="ReadData(in HrlRecord, Span{byte})"/>.</summary>
    public ValueTask ReadDataAsync(HrlRecord record, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (destination.Length != record.Length)
        {
            throw new ArgumentException($"The destination must be exactly {record.Length} bytes.", nameof(destination));
        }

        ValidateRecordRange(record);
        if (_staged is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ReadData(record, destination.Span);
            return ValueTask.CompletedTask;
        }

        return ReadDataCoreAsync(record, destination, cancellationToken);
    }

    /// <summary>
    /// Reads the data of every record of a sealed log and verifies each recorded <c>DataChecksum</c>, with one pooled
    /// buffer.
    /// </summary>
    /// <returns>The number of records whose checksum was recorded and verified.</returns>
    /// <exception cref="InvalidLogFormatException">The log is not sealed, or metadata or data is invalid.</exception>
    public long VerifyData(CancellationToken cancellationToken = default)
    {
        IEnumerable<HrlRecord> records = ReadRecords();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DataChunkSize);
        try
        {
            long verified = 0;
            foreach (HrlRecord record in records)
            {
                if (record.DataChecksum == 0)
                {
                    continue;
                }

                uint sum = 0;
                for (long done = 0; done < record.Length;)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(DataChunkSize, record.Length - done);
                    ReadAt(record.FileOffset + done, buffer.AsSpan(0, n), DataStructureName, "DataLength");
                    sum += HrlChecksum.Sum(buffer.AsSpan(0, n));
                    done += n;
                }

                VerifyDataChecksum(record, sum);
                verified++;
            }

            return verified;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads raw bytes of the data area: for callers (coalescing, apply) that read parts of several records at once from
    /// a log whose metadata they already validated with <see cref="ReadRecords()"/>.
    /// </summary>
    /// <exception cref="InvalidLogFormatException">The range is not inside the file.</exception>
    internal void ReadFileRange(long fileOffset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (fileOffset < HrlFormat.HeaderSize || fileOffset > FileLength - destination.Length)
        {
            throw CutShort(FilePath, fileOffset, destination.Length, DataStructureName, "DataLength", FileLength);
        }

        ReadAt(fileOffset, destination, DataStructureName, "DataLength");
    }

    /// <summary>Closes the file and gives back the memory of a staged log.</summary>
    public void Dispose()
    {
        _handle.Dispose();
        _staged?.Dispose();
    }

    private static InvalidLogFormatException HeaderCutShort(string full, long length) =>
        new(
            full,
            length,
            HrlFileHeader.StructureName,
            "length",
            string.Create(CultureInfo.InvariantCulture, $"the file is {length} bytes, shorter than the {HrlFileHeader.Size}-byte header"));

    private static void ValidateSizes(HrlFileHeader header, long fileLength, string path)
    {
        if (header.EolLocation > (ulong)fileLength)
        {
            throw new InvalidLogFormatException(
                path,
                HrlFileHeader.EolLocationOffset,
                HrlFileHeader.StructureName,
                "EOLLocation",
                string.Create(CultureInfo.InvariantCulture, $"the log ends at {header.EolLocation} but the file is {fileLength} bytes (truncated)"));
        }

        if (header.CurrentSize > (ulong)fileLength || header.CurrentSize < header.EolLocation)
        {
            throw new InvalidLogFormatException(
                path,
                HrlFileHeader.CurrentSizeOffset,
                HrlFileHeader.StructureName,
                "CurrentSize",
                string.Create(CultureInfo.InvariantCulture, $"{header.CurrentSize} is not between the end of the log ({header.EolLocation}) and the file's length ({fileLength})"));
        }

        if (header.OriginalSize > (ulong)fileLength)
        {
            throw new InvalidLogFormatException(
                path,
                HrlFileHeader.OriginalSizeOffset,
                HrlFileHeader.StructureName,
                "OriginalSize",
                string.Create(CultureInfo.InvariantCulture, $"{header.OriginalSize} exceeds the file's length ({fileLength})"));
        }
    }

    /// <summary>
    /// Pass one of the traversal: from the block ending at <paramref name="end"/> back to the first, validating each.
    /// Positions strictly decrease by at least one block per step and stay past the header, so the walk ends after at
    /// most (end − 4096) / MetadataSize steps whatever the file holds.
    /// </summary>
    /// <returns>
    /// The blocks' positions, last first, in a pooled table (<paramref name="count"/> used) that the caller gives back
    /// (<see cref="EnumerateRecords"/> does when its enumeration ends). Sized from the entries the header claims, at
    /// least one block per <see cref="HrlFormat.EntryCapacity"/> of them, and never beyond what fits before
    /// <paramref name="end"/>; grown by doubling through the pool when blocks hold fewer entries, so a steady stream of
    /// applies allocates no table.
    /// </returns>
    private long[] CollectBlocks(long end, ulong claimedEntries, out int count, out long totalEntries)
    {
        long most = Math.Max((end - HrlFormat.HeaderSize) / _metadataSize, 1);
        long guess = Math.Min(Math.Max((long)Math.Min(claimedEntries / (ulong)Math.Max(_capacity, 1), int.MaxValue) + 1, 16), most);
        long[] blocks = ArrayPool<long>.Shared.Rent((int)Math.Min(guess, Array.MaxLength));
        count = 0;
        totalEntries = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_metadataSize);
        try
        {
            long position = end - _metadataSize;
            while (true)
            {
                BlockInfo info = ReadBlock(position, buffer);
                if (count == blocks.Length)
                {
                    long[] larger = ArrayPool<long>.Shared.Rent((int)Math.Min(2L * blocks.Length, Array.MaxLength));
                    blocks.AsSpan(0, count).CopyTo(larger);
                    ArrayPool<long>.Shared.Return(blocks);
                    blocks = larger;
                }

                blocks[count++] = position;
                totalEntries += info.Count;
                if (info.Predecessor < 0)
                {
                    return blocks;
                }

                position = info.Predecessor;
            }
        }
        catch (Exception)
        {
            ArrayPool<long>.Shared.Return(blocks);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Pass two: the blocks from first to last, each re-read and re-validated, yielding its entries. The first
    /// enumeration takes the table's pooled positions and gives them back when it ends (one never started leaves them
    /// to the GC); another enumeration of the same records walks the chain again rather than read a returned table.
    /// </summary>
    private IEnumerable<HrlRecord> EnumerateRecords(BlockTable table)
    {
        long[]? blocks = Interlocked.Exchange(ref table.Blocks, null);
        int count = table.Count;
        blocks ??= CollectBlocks(table.End, table.ClaimedEntries, out count, out _);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_metadataSize);
        try
        {
            long index = 0;
            for (int b = count - 1; b >= 0; b--)
            {
                long position = blocks[b];
                BlockInfo info = ReadBlock(position, buffer);
                long fileOffset = info.DataStart;
                for (int i = 0; i < info.Count; i++)
                {
                    int slot = HrlMetadataHeader.Size + (i * HrlMetadataEntry.Size);
                    HrlMetadataEntry entry = HrlMetadataEntry.Read(buffer.AsSpan(slot, HrlMetadataEntry.Size), FilePath, position + slot);
                    yield return new HrlRecord
                    {
                        Index = index++,
                        DiskOffset = (long)entry.ByteOffset,
                        Length = entry.DataLength,
                        Timestamp = HrlTimestamp.ToDateTimeOffset(entry.TimeStamp),
                        FileOffset = fileOffset,
                        DataChecksum = entry.DataChecksum,
                    };
                    fileOffset += entry.DataLength;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<long>.Shared.Return(blocks);
        }
    }

    /// <summary>Reads and validates the metadata block at <paramref name="position"/>; returns where its data starts and its predecessor.</summary>
    private BlockInfo ReadBlock(long position, byte[] buffer)
    {
        if (position < HrlFormat.HeaderSize || position % HrlFormat.SectorSize != 0)
        {
            throw new InvalidLogFormatException(
                FilePath,
                position,
                BlockStructureName,
                "location",
                "a metadata block must start past the header, on a 512-byte boundary");
        }

        Span<byte> block = buffer.AsSpan(0, _metadataSize);
        ReadAt(position, block, BlockStructureName, "location");
        HrlMetadataHeader header = HrlMetadataHeader.Read(block, FilePath, position);
        if (header.ValidMetadataEntries > (uint)_capacity)
        {
            throw new InvalidLogFormatException(
                FilePath,
                position + HrlMetadataHeader.ValidMetadataEntriesOffset,
                HrlMetadataHeader.StructureName,
                "ValidMetadataEntries",
                string.Create(CultureInfo.InvariantCulture, $"{header.ValidMetadataEntries} entries do not fit a {_metadataSize}-byte block ({_capacity} at most)"));
        }

        long predecessor;
        long dataStart;
        ulong previous = header.PreviousMetadataLocation;
        if (previous == 0)
        {
            predecessor = -1;
            dataStart = HrlFormat.HeaderSize;
        }
        else if (previous % HrlFormat.SectorSize != 0 || previous < (ulong)_metadataSize || previous > (ulong)(position - HrlFormat.HeaderSize))
        {
            throw new InvalidLogFormatException(
                FilePath,
                position + HrlMetadataHeader.PreviousMetadataLocationOffset,
                HrlMetadataHeader.StructureName,
                "PreviousMetadataLocation",
                string.Create(CultureInfo.InvariantCulture, $"{previous} does not point back to a whole metadata block between the header and this block at {position}"));
        }
        else
        {
            predecessor = position - (long)previous;
            dataStart = predecessor + _metadataSize;
        }

        int count = (int)header.ValidMetadataEntries;
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            int slot = HrlMetadataHeader.Size + (i * HrlMetadataEntry.Size);
            total += HrlMetadataEntry.Read(block.Slice(slot, HrlMetadataEntry.Size), FilePath, position + slot).DataLength;
        }

        if (total != position - dataStart)
        {
            throw new InvalidLogFormatException(
                FilePath,
                position,
                BlockStructureName,
                "DataLength",
                string.Create(CultureInfo.InvariantCulture, $"the {count} entries hold {total} bytes of data but {position - dataStart} bytes lie between the previous block (or the header) and this block"));
        }

        return new BlockInfo(predecessor, dataStart, count);
    }

    private void ValidateRecordRange(in HrlRecord record)
    {
        if (record.Length <= 0 || record.FileOffset < HrlFormat.HeaderSize || record.FileOffset > long.MaxValue - record.Length)
        {
            throw new ArgumentException("The record does not describe data of this log.", nameof(record));
        }
    }

    private async ValueTask ReadDataCoreAsync(HrlRecord record, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = await RandomAccess.ReadAsync(_handle, destination[done..], record.FileOffset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw CutShort(FilePath, record.FileOffset, destination.Length, DataStructureName, "DataLength", RandomAccess.GetLength(_handle));
            }

            done += n;
        }

        VerifyDataChecksum(record, HrlChecksum.Sum(destination.Span));
    }

    private void VerifyDataChecksum(in HrlRecord record, uint sum)
    {
        if (record.DataChecksum != 0 && ~sum != record.DataChecksum)
        {
            throw new InvalidLogFormatException(
                FilePath,
                record.FileOffset,
                DataStructureName,
                "DataChecksum",
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"the data of record {record.Index} ({record.Length} bytes for disk offset {record.DiskOffset}) does not match its checksum (recorded {record.DataChecksum}, computed {~sum})"));
        }
    }

    private static void ReadExactly(SafeFileHandle handle, string path, long fileOffset, Span<byte> destination, string structure, string field)
    {
        if (ReadFile(handle, fileOffset, destination) != destination.Length)
        {
            throw CutShort(path, fileOffset, destination.Length, structure, field, RandomAccess.GetLength(handle));
        }
    }

    private int ReadAtMost(long fileOffset, Span<byte> destination) =>
        _staged is { } staged ? staged.CopyAtMost(fileOffset, destination) : ReadFile(_handle, fileOffset, destination);

    /// <summary>Reads from the file up to <paramref name="destination"/>'s length; fewer bytes when the file ends first.</summary>
    private static int ReadFile(SafeFileHandle handle, long fileOffset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(handle, destination[done..], fileOffset + done);
            if (n == 0)
            {
                break;
            }

            done += n;
        }

        return done;
    }

    private static InvalidLogFormatException CutShort(string path, long fileOffset, int length, string structure, string field, long fileLength) =>
        new(path, fileOffset, structure, field, string.Create(CultureInfo.InvariantCulture, $"the file ends at {fileLength} bytes, before the {length} bytes read here"));

    private readonly record struct BlockInfo(long Predecessor, long DataStart, int Count);

    /// <summary>The metadata blocks found by pass one, handed to the first enumeration of pass two.</summary>
    private sealed class BlockTable(long[] blocks, int count, long end, ulong claimedEntries)
    {
        public long[]? Blocks = blocks;

        public int Count { get; } = count;

        public long End { get; } = end;

        public ulong ClaimedEntries { get; } = claimedEntries;
    }
}
