using System.Buffers;
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
/// The 1024-byte header is one durable record (<see cref="RecordFormat"/>, magic "REPLUNDO", version 2) whose payload
/// is the chunk size i32, the point id i64, the creation time (UTC ticks) i64, the virtual size i64, the label's length
/// u16 and its UTF-8 bytes. Each pre-image follows as a 40-byte record (magic "UREC", version 1: chunk index i64 and the
/// XxHash3 of the data u64) and then its data. A record that fails its checks ends the log (a crash cut it short
/// before any replica write depended on it).
/// </remarks>
internal sealed class UndoLog : IDisposable
{
    public const int HeaderSize = 1024;
    private const int HeaderPayloadSize = HeaderSize - RecordFormat.HeaderSize - RecordFormat.ChecksumSize;
    private const int RecordPayloadSize = 16;
    private const int MaxLabelBytes = 960;
    private static readonly RecordFormat HeaderFormat = new("undo log header", "REPLUNDO"u8, version: 2, HeaderPayloadSize, HeaderPayloadSize);
    private static readonly RecordFormat RecordFrame = new("undo record", "UREC"u8, version: 1, RecordPayloadSize, RecordPayloadSize);
    private static readonly int RecordHeaderSize = RecordFormat.SizeFor(RecordPayloadSize);

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

    /// <summary>The ids of the undo logs in <paramref name="directory"/> (named as <see cref="FileName"/> names them), ascending.</summary>
    public static List<long> Ids(string directory)
    {
        var ids = new List<long>();
        foreach (string file in Directory.EnumerateFiles(directory, "*.undo"))
        {
            string name = System.IO.Path.GetFileName(file);
            if (name.EndsWith(".undo", StringComparison.Ordinal) && name.Length == 25
                && long.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out long id))
            {
                ids.Add(id);
            }
        }

        ids.Sort();
        return ids;
    }

    /// <summary>Creates the (empty) undo log of a new point durably and returns it open for appending.</summary>
    public static UndoLog Create(string directory, long id, DateTimeOffset createdAt, string? label, long virtualSize, int chunkSize)
    {
        string path = System.IO.Path.Combine(directory, FileName(id));
        byte[] labelBytes = label is null ? [] : Encoding.UTF8.GetBytes(label);
        if (labelBytes.Length > MaxLabelBytes)
        {
            throw new ArgumentException($"A recovery point label takes at most {MaxLabelBytes} bytes of UTF-8.", nameof(label));
        }

        byte[] header = HeaderFormat.Encode(HeaderPayloadSize, (ref RecordWriter w) =>
        {
            w.Int32(chunkSize);
            w.Int64(id);
            w.Int64(createdAt.UtcTicks);
            w.Int64(virtualSize);
            w.UInt16((ushort)labelBytes.Length);
            w.Bytes(labelBytes);
        });
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: false);
        DurableFile.FlushDirectory(directory);
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
                throw HeaderFormat.Fail(path, 0, "Length", "the file is shorter than its header");
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
                throw HeaderFormat.Fail(path, 0, "Length", "the file is shorter than its header");
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
                        || !TryReadRecordHeader(head, out long chunk, out ulong dataHash))
                    {
                        return;
                    }

                    if (chunk < 0 || chunk >= (VirtualSize + ChunkSize - 1) / ChunkSize)
                    {
                        return;
                    }

                    int recordLength = (int)Math.Min(ChunkSize, VirtualSize - (chunk * ChunkSize));
                    if (_end + RecordHeaderSize + recordLength > length)
                    {
                        return;
                    }

                    Span<byte> payload = data.AsSpan(0, recordLength);
                    if (RandomAccess.Read(_file.SafeFileHandle, payload, _end + RecordHeaderSize) != recordLength
                        || dataHash != XxHash3.HashToUInt64(payload))
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

            if (data.Length != Math.Min(ChunkSize, VirtualSize - (chunk * ChunkSize)))
            {
                throw new ArgumentException($"{Path}: the pre-image of chunk {chunk} must cover the whole chunk.", nameof(data));
            }

            Span<byte> payload = stackalloc byte[RecordPayloadSize];
            var w = new RecordWriter(payload);
            w.Int64(chunk);
            w.UInt64(XxHash3.HashToUInt64(data));
            Span<byte> head = stackalloc byte[RecordHeaderSize];
            RecordFrame.Encode(payload, head);
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
            throw RecordFrame.Fail(Path, entry.Offset, "Data", "the file ends inside a record");
        }
    }

    public void Dispose() => _file.Dispose();

    private static bool TryReadRecordHeader(ReadOnlySpan<byte> head, out long chunk, out ulong dataHash)
    {
        try
        {
            RecordReader r = RecordFrame.Decode(head, null);
            chunk = r.Int64("Chunk");
            dataHash = r.UInt64("DataHash");
            return true;
        }
        catch (InvalidRecordException)
        {
            chunk = 0;
            dataHash = 0;
            return false;
        }
    }

    private static Header ParseHeader(string path, ReadOnlySpan<byte> bytes)
    {
        RecordReader r = HeaderFormat.Decode(bytes, path);
        int chunkSize = r.Int32("ChunkSize");
        if (chunkSize < 512 || chunkSize > 4 << 20 || !int.IsPow2(chunkSize))
        {
            throw r.Error("ChunkSize", $"{chunkSize} is not a power of two from 512 to 4 MiB");
        }

        long id = r.Int64("Id");
        long created = r.Int64("CreatedAt");
        if (created < DateTimeOffset.MinValue.UtcTicks || created > DateTimeOffset.MaxValue.UtcTicks)
        {
            throw r.Error("CreatedAt", $"{created} ticks is not a time");
        }

        long size = r.Int64("VirtualSize");
        if (size <= 0)
        {
            throw r.Error("VirtualSize", $"{size} is not positive");
        }

        int labelLength = r.UInt16("LabelLength");
        if (labelLength > MaxLabelBytes)
        {
            throw r.Error("LabelLength", $"{labelLength} bytes is more than {MaxLabelBytes}");
        }

        string? label = labelLength == 0 ? null : Encoding.UTF8.GetString(r.Bytes(labelLength, "Label"));
        return new Header(id, new DateTimeOffset(created, TimeSpan.Zero), label, chunkSize, size);
    }

    private readonly record struct Header(long Id, DateTimeOffset CreatedAt, string? Label, int ChunkSize, long VirtualSize);
}
