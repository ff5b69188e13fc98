using System.Buffers.Binary;

namespace Replication.Core.IO;

/// <summary>
/// Reads the fields of a record's payload in order, keeping the absolute file offset of each, so an error names the
/// file, the offset and <c>record.Field</c>. Reading past the payload is itself an error (a truncated record).
/// </summary>
internal ref struct RecordReader
{
    private readonly RecordFormat _format;
    private readonly ReadOnlySpan<byte> _payload;
    private readonly string? _path;
    private readonly long _payloadOffset;
    private int _position;
    private int _last;

    internal RecordReader(RecordFormat format, ReadOnlySpan<byte> payload, string? path, long payloadOffset)
    {
        _format = format;
        _payload = payload;
        _path = path;
        _payloadOffset = payloadOffset;
    }

    /// <summary>The payload's length in bytes.</summary>
    public readonly int Length => _payload.Length;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _payload.Length - _position;

    /// <summary>Absolute file offset of the next field.</summary>
    public readonly long Offset => _payloadOffset + _position;

    public long Int64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

    public ulong UInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    public int Int32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

    public uint UInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

    public ushort UInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));

    public byte Byte(string field) => Take(1, field)[0];

    public Guid Guid(string field) => new(Take(16, field));

    public UInt128 UInt128(string field) => BinaryPrimitives.ReadUInt128LittleEndian(Take(16, field));

    public ReadOnlySpan<byte> Bytes(int length, string field) => Take(length, field);

    /// <summary>Skips reserved bytes, which must be zero.</summary>
    public void Reserved(int length, string field = "Reserved")
    {
        if (Take(length, field).ContainsAnyExcept((byte)0))
        {
            throw Error(field, "reserved bytes must be 0");
        }
    }

    /// <summary>Throws unless the whole payload was read.</summary>
    public readonly void End()
    {
        if (_position != _payload.Length)
        {
            throw _format.Fail(_path, Offset, "Length", $"{Remaining} bytes are left after the last field");
        }
    }

    /// <summary>The error for the field read last (its offset), with <paramref name="detail"/>.</summary>
    public readonly InvalidRecordException Error(string field, string detail) => _format.Fail(_path, _payloadOffset + _last, field, detail);

    /// <summary>The error for a field at an absolute file offset.</summary>
    public readonly InvalidRecordException ErrorAt(long fileOffset, string field, string detail) => _format.Fail(_path, fileOffset, field, detail);

    private ReadOnlySpan<byte> Take(int length, string field)
    {
        if (length > _payload.Length - _position)
        {
            throw _format.Fail(_path, Offset, field, $"the record ends before this field ({Remaining} bytes left, {length} needed)");
        }

        _last = _position;
        _position += length;
        return _payload.Slice(_last, length);
    }
}
