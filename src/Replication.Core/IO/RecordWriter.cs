using System.Buffers.Binary;

namespace Replication.Core.IO;

/// <summary>Writes the fields of a record's payload in order (little-endian), the mirror of <see cref="RecordReader"/>.</summary>
internal ref struct RecordWriter
{
    private readonly Span<byte> _payload;
    private int _position;

    public RecordWriter(Span<byte> payload)
    {
        _payload = payload;
        _payload.Clear();
    }

    /// <summary>Fills a payload in place.</summary>
    public delegate void Fill(ref RecordWriter writer);

    public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

    public void UInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

    public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    public void UInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

    public void UInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);

    public void Byte(byte value) => Take(1)[0] = value;

    public void Guid(Guid value) => value.TryWriteBytes(Take(16));

    public void UInt128(UInt128 value) => BinaryPrimitives.WriteUInt128LittleEndian(Take(16), value);

    public void Bytes(scoped ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));

    /// <summary>Leaves <paramref name="length"/> zero bytes.</summary>
    public void Reserved(int length) => Take(length);

    private Span<byte> Take(int length)
    {
        Span<byte> field = _payload.Slice(_position, length);
        _position += length;
        return field;
    }
}
