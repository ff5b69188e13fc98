using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace Replication.Core.IO;

/// <summary>
/// One format of the library's own durable records. Every record, whether it is a whole file (a checkpoint, the
/// tracking state, a sidecar) or a structure at a fixed place in a larger file (a manifest's header, a fence's state),
/// has the same frame, little-endian:
/// <code>
///   0  Magic           8 bytes (ASCII, NUL-padded)
///   8  Version         u16
///  10  HeaderSize      u16 (16)
///  12  PayloadLength   u32
///  16  Payload         PayloadLength bytes (the format's own fields)
///  16+N Checksum       u64, XxHash3 (seed 0) of every byte before it
/// </code>
/// A record is checked in this order before any of its fields is used: length, magic, version, header size, payload
/// length (against the bytes present and the format's limit, so a hostile length never sizes an allocation), checksum;
/// then the owner reads its fields through a <see cref="RecordReader"/>, whose errors name the file, the absolute
/// offset and <c>record.Field</c>. Failures are <see cref="InvalidRecordException"/>s, or the owner's subclass of it.
/// A record file is replaced atomically (temporary file, fsync, rename, directory fsync): a crash leaves the old record
/// or the new one.
/// </summary>
internal sealed class RecordFormat
{
    /// <summary>Bytes of the frame before the payload.</summary>
    public const int HeaderSize = 16;

    /// <summary>Bytes of the checksum after the payload.</summary>
    public const int ChecksumSize = 8;

    /// <summary>Offset of <c>Version</c> in the frame.</summary>
    public const int VersionOffset = 8;

    /// <summary>Offset of <c>PayloadLength</c> in the frame.</summary>
    public const int PayloadLengthOffset = 12;

    private readonly byte[] _magic;

    /// <summary>Describes a format.</summary>
    /// <param name="name">How errors name the record, for example <c>resync checkpoint</c>.</param>
    /// <param name="magic">Up to 8 ASCII bytes that start every record of this format.</param>
    /// <param name="version">The version this library writes and reads.</param>
    /// <param name="maxPayloadLength">The largest payload accepted; a record claiming more is rejected before it is read.</param>
    /// <param name="fixedPayloadLength">The exact payload length of a fixed-size record, or null for a variable one.</param>
    /// <param name="error">Makes the exception for a bad field (file, offset, <c>record.Field</c>, detail); <see cref="InvalidRecordException"/> when null.</param>
    public RecordFormat(
        string name,
        ReadOnlySpan<byte> magic,
        ushort version,
        int maxPayloadLength,
        int? fixedPayloadLength = null,
        Func<string?, long, string, string, InvalidRecordException>? error = null)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(magic.Length, 8);
        Name = name;
        _magic = new byte[8];
        magic.CopyTo(_magic);
        Version = version;
        MaxPayloadLength = fixedPayloadLength ?? maxPayloadLength;
        FixedPayloadLength = fixedPayloadLength;
        Error = error ?? ((path, offset, field, detail) => new InvalidRecordException(path, offset, field, detail));
    }

    /// <summary>How errors name the record.</summary>
    public string Name { get; }

    /// <summary>The version written and accepted.</summary>
    public ushort Version { get; }

    /// <summary>The largest payload accepted.</summary>
    public int MaxPayloadLength { get; }

    /// <summary>The exact payload length of a fixed-size record, or null.</summary>
    public int? FixedPayloadLength { get; }

    /// <summary>Makes the exception for a bad field.</summary>
    public Func<string?, long, string, string, InvalidRecordException> Error { get; }

    /// <summary>Total bytes of a record with a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int SizeFor(int payloadLength) => HeaderSize + payloadLength + ChecksumSize;

    /// <summary>The exception for <paramref name="field"/> of this record at <paramref name="offset"/> of <paramref name="path"/>.</summary>
    public InvalidRecordException Fail(string? path, long offset, string field, string detail) => Error(path, offset, $"{Name}.{field}", detail);

    /// <summary>Frames <paramref name="payload"/> into <paramref name="destination"/> (exactly <see cref="SizeFor"/> bytes).</summary>
    public void Encode(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        int size = SizeFor(payload.Length);
        if (destination.Length != size || payload.Length > MaxPayloadLength)
        {
            throw new ArgumentException($"A {Name} record of {payload.Length} payload bytes is {size} bytes and at most {MaxPayloadLength} payload bytes.", nameof(destination));
        }

        payload.CopyTo(destination[HeaderSize..]);
        Frame(destination, payload.Length);
    }

    /// <summary>Frames a payload that <paramref name="write"/> fills in place.</summary>
    public byte[] Encode(int payloadLength, RecordWriter.Fill write)
    {
        byte[] bytes = new byte[SizeFor(payloadLength)];
        var writer = new RecordWriter(bytes.AsSpan(HeaderSize, payloadLength));
        write(ref writer);
        Frame(bytes, payloadLength);
        return bytes;
    }

    /// <summary>Writes the frame's header around a payload already in place, then the checksum.</summary>
    private void Frame(Span<byte> record, int payloadLength)
    {
        _magic.CopyTo(record);
        BinaryPrimitives.WriteUInt16LittleEndian(record[VersionOffset..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(record[10..], HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(record[PayloadLengthOffset..], (uint)payloadLength);
        Seal(record);
    }

    /// <summary>Recomputes the checksum of a framed record in place (after its payload was changed there).</summary>
    public static void Seal(Span<byte> record) =>
        BinaryPrimitives.WriteUInt64LittleEndian(record[^ChecksumSize..], XxHash3.HashToUInt64(record[..^ChecksumSize]));

    /// <summary>
    /// Checks the frame of a record that starts at <paramref name="source"/>[0] (and may be followed by other data)
    /// and returns a reader over its payload.
    /// </summary>
    /// <param name="source">The record's bytes, possibly followed by more.</param>
    /// <param name="path">The file, for errors.</param>
    /// <param name="fileOffset">Where the record starts in the file, for errors.</param>
    /// <exception cref="InvalidRecordException">The frame is wrong (names the field and its offset).</exception>
    public RecordReader Decode(ReadOnlySpan<byte> source, string? path, long fileOffset = 0)
    {
        if (source.Length < HeaderSize + ChecksumSize)
        {
            throw Fail(path, fileOffset, "Length", string.Create(CultureInfo.InvariantCulture, $"{source.Length} bytes is shorter than any {Name} ({HeaderSize + ChecksumSize} bytes at least): the record is truncated"));
        }

        if (!source[..8].SequenceEqual(_magic))
        {
            throw Fail(path, fileOffset, "Magic", $"not a {Name} (the magic is not \"{System.Text.Encoding.ASCII.GetString(_magic).TrimEnd('\0')}\")");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]);
        if (version != Version)
        {
            throw Fail(path, fileOffset + VersionOffset, "Version", string.Create(CultureInfo.InvariantCulture, $"version {version} is not supported (this library reads version {Version})"));
        }

        ushort headerSize = BinaryPrimitives.ReadUInt16LittleEndian(source[10..]);
        if (headerSize != HeaderSize)
        {
            throw Fail(path, fileOffset + 10, "HeaderSize", string.Create(CultureInfo.InvariantCulture, $"{headerSize} bytes; version {Version} records have a {HeaderSize}-byte header"));
        }

        uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(source[PayloadLengthOffset..]);
        if (payloadLength > (uint)MaxPayloadLength || (FixedPayloadLength is { } exact && payloadLength != exact))
        {
            throw Fail(path, fileOffset + PayloadLengthOffset, "PayloadLength", string.Create(CultureInfo.InvariantCulture, $"{payloadLength} bytes; a {Name} holds {(FixedPayloadLength is { } f ? $"exactly {f}" : $"at most {MaxPayloadLength}")}"));
        }

        int size = SizeFor((int)payloadLength);
        if (source.Length < size)
        {
            throw Fail(path, fileOffset + PayloadLengthOffset, "PayloadLength", string.Create(CultureInfo.InvariantCulture, $"{payloadLength} payload bytes need {size} bytes but only {source.Length} are there: the record is truncated"));
        }

        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(source[(size - ChecksumSize)..]);
        ulong computed = XxHash3.HashToUInt64(source[..(size - ChecksumSize)]);
        if (stored != computed)
        {
            throw Fail(path, fileOffset + size - ChecksumSize, "Checksum", string.Create(CultureInfo.InvariantCulture, $"stored 0x{stored:X16}, computed 0x{computed:X16}: the record is corrupt"));
        }

        return new RecordReader(this, source.Slice(HeaderSize, (int)payloadLength), path, fileOffset + HeaderSize);
    }

    /// <summary>Replaces the record file <paramref name="path"/> with <paramref name="payload"/>, durably and atomically.</summary>
    public void Write(string path, ReadOnlySpan<byte> payload)
    {
        byte[] bytes = new byte[SizeFor(payload.Length)];
        Encode(payload, bytes);
        DurableFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Replaces the record file <paramref name="path"/> with a payload filled in place, durably and atomically.</summary>
    public void Write(string path, int payloadLength, RecordWriter.Fill write) => DurableFile.WriteAllBytes(path, Encode(payloadLength, write));

    /// <summary>Reads the record file <paramref name="path"/>; null when it does not exist.</summary>
    /// <returns>The whole record (frame included); decode it with <see cref="Decode"/>.</returns>
    /// <exception cref="InvalidRecordException">The file is larger than any record of this format.</exception>
    public byte[]? ReadFile(string path)
    {
        try
        {
            using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            long length = stream.Length;
            if (length > SizeFor(MaxPayloadLength))
            {
                throw Fail(path, 0, "Length", string.Create(CultureInfo.InvariantCulture, $"{length} bytes is more than any {Name} ({SizeFor(MaxPayloadLength)} bytes at most)"));
            }

            byte[] bytes = new byte[length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
