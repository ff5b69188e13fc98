using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Replication.Core.IO;

namespace Replication.Core.Targets.Local;

/// <summary>
/// The undo log of one recovery point: pre-images of every chunk of the replica overwritten after the point was
/// created and before the next point was. A chunk is captured once, and its record is durable before the replica is
/// written, so the point reads as the replica overlaid with its own undo log and every newer one.
/// </summary>
/// <remarks>
/// 1024-byte header, little-endian: "REPLUNDO", version u32, chunk size u32, point id i64, creation time (UTC ticks)
/// i64, virtual size i64, label length u16 and UTF-8 label, XxHash3 of the first 1016 bytes at 1016. Records follow:
/// "UREC", length u32, chunk index i64, XxHash3 of the data u64, XxHash3 of these 24 bytes u64, then the data. A
/// record that fails its checks ends the log (a crash cut it short before any replica write depended on it).
/// </remarks>
internal sealed class UndoLog : IDisposable
{
    public const int HeaderSize = 1024;
    private const int RecordHeaderSize = 32;
    private const uint Version = 1;
    private const int MaxLabelBytes = 960;
    private static ReadOnlySpan<byte> Magic => "REPLUNDO"u8;
    private static ReadOnlySpan<byte> RecordMagic => "UREC"u8;

    private readonly FileStream _file;
    private readonly ConcurrentDictionary<long, (long Offset, int Length)> _index = new();
    private readonly object _scanLock = new();
    private long _end;

    private UndoLog(string path, FileStream file, Header header)
    {
        Path = path;
        _file = file;
        Id = header.Id;
        CreatedAt = header.CreatedAt;
        Label = header.Label;
        ChunkSize = header.ChunkSize;
        VirtualSize = header.VirtualSize;
        _end = HeaderSize;
    }

    public string Path { get; }

    public long Id { get; }

    public DateTimeOffset CreatedAt { get; }

    public string? Label { get; }

    public int ChunkSize { get; }

    public long VirtualSize { get; }

    public IEnumerable<long> Chunks => _index.Keys;

    public static string FileName(long id) => id.ToString("D20", CultureInfo.InvariantCulture) + ".undo";

    public static bool TryParseFileName(string fileName, out long id)
    {
        id = 0;
        return fileName.EndsWith(".undo", StringComparison.Ordinal) && fileName.Length == 25
            && long.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>Creates the (empty) undo log of a new point durably and returns it open for appending.</summary>
    public static UndoLog Create(string directory, long id, DateTimeOffset createdAt, string? label, long virtualSize, int chunkSize)
    {
        string path = System.IO.Path.Combine(directory, FileName(id));
        string temporary = path + ".tmp";
        byte[] header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), chunkSize);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), id);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), createdAt.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(32), virtualSize);
        int labelBytes = label is null ? 0 : Encoding.UTF8.GetBytes(label, header.AsSpan(42, MaxLabelBytes));
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(40), (ushort)labelBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(1016), XxHash3.HashToUInt64(header.AsSpan(0, 1016)));
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: false);
        DirectorySync.Flush(directory);
        return Open(path, writable: true);
    }

    /// <summary>Opens an undo log and reads its records; a writer cuts off a torn tail.</summary>
    public static UndoLog Open(string path, bool writable)
    {
        FileStream file;
        try
        {
            file = new FileStream(
                path,
                FileMode.Open,
                writable ? FileAccess.ReadWrite : FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 0,
                FileOptions.RandomAccess);
        }
        catch (FileNotFoundException ex)
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{path}: the recovery point does not exist.", innerException: ex);
        }

        try
        {
            byte[] bytes = new byte[HeaderSize];
            if (RandomAccess.Read(file.SafeFileHandle, bytes, 0) != HeaderSize)
            {
                throw new InvalidDiskFormatException(path, 0, "undo log header", "the file is shorter than its header");
            }

            var log = new UndoLog(path, file, ParseHeader(path, bytes));
            log.Refresh();
            if (writable && log._end < file.Length)
            {
                // A crash cut the last records short; no replica write depended on them.
                file.SetLength(log._end);
                file.Flush(flushToDisk: true);
            }

            return log;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads just the header: what a listing of points needs.</summary>
    public static RecoveryPoint ReadPoint(string path)
    {
        byte[] bytes = new byte[HeaderSize];
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0))
        {
            if (file.ReadAtLeast(bytes, HeaderSize, throwOnEndOfStream: false) != HeaderSize)
            {
                throw new InvalidDiskFormatException(path, 0, "undo log header", "the file is shorter than its header");
            }
        }

        Header header = ParseHeader(path, bytes);
        return new RecoveryPoint(header.Id.ToString(CultureInfo.InvariantCulture), header.CreatedAt, header.Label);
    }

    public bool TryGet(long chunk, out (long Offset, int Length) entry) => _index.TryGetValue(chunk, out entry);

    /// <summary>Picks up records appended since the last look (by another process or handle).</summary>
    public void Refresh()
    {
        lock (_scanLock)
        {
            long length = _file.Length;
            byte[] data = ArrayPool<byte>.Shared.Rent(ChunkSize);
            try
            {
                Span<byte> head = stackalloc byte[RecordHeaderSize];
                while (_end + RecordHeaderSize <= length)
                {
                    if (RandomAccess.Read(_file.SafeFileHandle, head, _end) != RecordHeaderSize
                        || !head[..4].SequenceEqual(RecordMagic)
                        || BinaryPrimitives.ReadUInt64LittleEndian(head[24..]) != XxHash3.HashToUInt64(head[..24]))
                    {
                        return;
                    }

                    int recordLength = BinaryPrimitives.ReadInt32LittleEndian(head[4..]);
                    long chunk = BinaryPrimitives.ReadInt64LittleEndian(head[8..]);
                    if (recordLength <= 0 || recordLength > ChunkSize || chunk < 0 || chunk * ChunkSize >= VirtualSize
                        || _end + RecordHeaderSize + recordLength > length)
                    {
                        return;
                    }

                    Span<byte> payload = data.AsSpan(0, recordLength);
                    if (RandomAccess.Read(_file.SafeFileHandle, payload, _end + RecordHeaderSize) != recordLength
                        || BinaryPrimitives.ReadUInt64LittleEndian(head[16..]) != XxHash3.HashToUInt64(payload))
                    {
                        return;
                    }

                    // The first record of a chunk wins: a later duplicate (a merge repeated after a crash) holds the same bytes.
                    _index.TryAdd(chunk, (_end + RecordHeaderSize, recordLength));
                    _end += RecordHeaderSize + recordLength;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(data);
            }
        }
    }

    /// <summary>Appends the pre-image of a chunk (not yet durable: call <see cref="Sync"/>).</summary>
    public void Append(long chunk, ReadOnlySpan<byte> data)
    {
        lock (_scanLock)
        {
            if (_index.ContainsKey(chunk))
            {
                return;
            }

            Span<byte> head = stackalloc byte[RecordHeaderSize];
            RecordMagic.CopyTo(head);
            BinaryPrimitives.WriteInt32LittleEndian(head[4..], data.Length);
            BinaryPrimitives.WriteInt64LittleEndian(head[8..], chunk);
            BinaryPrimitives.WriteUInt64LittleEndian(head[16..], XxHash3.HashToUInt64(data));
            BinaryPrimitives.WriteUInt64LittleEndian(head[24..], XxHash3.HashToUInt64(head[..24]));
            RandomAccess.Write(_file.SafeFileHandle, head, _end);
            RandomAccess.Write(_file.SafeFileHandle, data, _end + RecordHeaderSize);
            _index[chunk] = (_end + RecordHeaderSize, data.Length);
            _end += RecordHeaderSize + data.Length;
        }
    }

    /// <summary>Makes every appended record durable.</summary>
    public void Sync() => _file.Flush(flushToDisk: true);

    /// <summary>Reads a captured pre-image.</summary>
    public void ReadData((long Offset, int Length) entry, Span<byte> destination)
    {
        if (RandomAccess.Read(_file.SafeFileHandle, destination[..entry.Length], entry.Offset) != entry.Length)
        {
            throw new InvalidDiskFormatException(Path, entry.Offset, "undo record data", "the file ends inside a record");
        }
    }

    public void Dispose() => _file.Dispose();

    private static Header ParseHeader(string path, ReadOnlySpan<byte> bytes)
    {
        if (!bytes[..8].SequenceEqual(Magic))
        {
            throw new InvalidDiskFormatException(path, 0, "undo log header.Signature", "not an undo log");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes[1016..]) != XxHash3.HashToUInt64(bytes[..1016]))
        {
            throw new InvalidDiskFormatException(path, 1016, "undo log header.Checksum", "the header checksum does not match");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        int chunkSize = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        long size = BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]);
        int labelLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[40..]);
        if (version != Version || chunkSize < 512 || chunkSize > 4 << 20 || !int.IsPow2(chunkSize) || size <= 0 || labelLength > MaxLabelBytes)
        {
            throw new InvalidDiskFormatException(path, 8, "undo log header", $"version {version}, chunk size {chunkSize}, size {size} or label length {labelLength} is not valid");
        }

        string? label = labelLength == 0 ? null : Encoding.UTF8.GetString(bytes.Slice(42, labelLength));
        return new Header(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]), TimeSpan.Zero),
            label,
            chunkSize,
            size);
    }

    private readonly record struct Header(long Id, DateTimeOffset CreatedAt, string? Label, int ChunkSize, long VirtualSize);
}
