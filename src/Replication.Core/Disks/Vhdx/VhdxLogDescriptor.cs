using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// A 32-byte log descriptor ([MS-VHDX] 2.3.1.2, 2.3.1.3): a zero descriptor ("zero": zero <see cref="ZeroLength"/>
/// bytes at <see cref="FileOffset"/>) or a data descriptor ("desc": one 4 KiB sector at <see cref="FileOffset"/>,
/// whose first 8 and last 4 bytes are kept here because the data sector holds its own signature and sequence
/// number in those places).
/// </summary>
internal readonly record struct VhdxLogDescriptor
{
    /// <summary>"zero" read as a little-endian 32-bit integer.</summary>
    public const uint ZeroSignature = 0x6F72657A;

    /// <summary>"desc" read as a little-endian 32-bit integer.</summary>
    public const uint DataSignature = 0x63736564;

    /// <summary>Bytes of a descriptor.</summary>
    public const int Size = 32;

    /// <summary>Offset of the trailing bytes (data) or reserved field (zero).</summary>
    public const int TrailingBytesOffset = 4;

    /// <summary>Offset of the leading bytes (data) or zero length (zero).</summary>
    public const int LeadingBytesOffset = 8;

    /// <summary>Offset of the file offset field.</summary>
    public const int FileOffsetOffset = 16;

    /// <summary>Offset of the sequence number field.</summary>
    public const int SequenceNumberOffset = 24;

    /// <summary>"zero" or "desc" (anything else is invalid).</summary>
    public uint Signature { get; init; }

    /// <summary>Data: the last 4 bytes of the sector.</summary>
    public uint TrailingBytes { get; init; }

    /// <summary>Data: the first 8 bytes of the sector. Zero: the length to zero (shares the field).</summary>
    public ulong LeadingBytes { get; init; }

    /// <summary>Zero descriptors: bytes to zero, a multiple of 4 KiB.</summary>
    public ulong ZeroLength => LeadingBytes;

    /// <summary>Where in the file the update goes, a multiple of 4 KiB.</summary>
    public ulong FileOffset { get; init; }

    /// <summary>Must equal the entry's sequence number.</summary>
    public ulong SequenceNumber { get; init; }

    /// <summary>True for a zero descriptor.</summary>
    public bool IsZero => Signature == ZeroSignature;

    /// <summary>Reads a descriptor; the log reader validates it.</summary>
    public static VhdxLogDescriptor Read(ReadOnlySpan<byte> source) => new()
    {
        Signature = BinaryPrimitives.ReadUInt32LittleEndian(source),
        TrailingBytes = BinaryPrimitives.ReadUInt32LittleEndian(source[TrailingBytesOffset..]),
        LeadingBytes = BinaryPrimitives.ReadUInt64LittleEndian(source[LeadingBytesOffset..]),
        FileOffset = BinaryPrimitives.ReadUInt64LittleEndian(source[FileOffsetOffset..]),
        SequenceNumber = BinaryPrimitives.ReadUInt64LittleEndian(source[SequenceNumberOffset..]),
    };

    /// <summary>A data descriptor for <paramref name="sector"/> (4 KiB) going to <paramref name="fileOffset"/>.</summary>
    public static VhdxLogDescriptor ForData(ReadOnlySpan<byte> sector, long fileOffset, ulong sequenceNumber) => new()
    {
        Signature = DataSignature,
        LeadingBytes = BinaryPrimitives.ReadUInt64LittleEndian(sector),
        TrailingBytes = BinaryPrimitives.ReadUInt32LittleEndian(sector[(VhdxLayout.LogSectorSize - 4)..]),
        FileOffset = (ulong)fileOffset,
        SequenceNumber = sequenceNumber,
    };

    /// <summary>Writes the descriptor.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Signature);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[TrailingBytesOffset..], TrailingBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[LeadingBytesOffset..], LeadingBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[FileOffsetOffset..], FileOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[SequenceNumberOffset..], SequenceNumber);
    }
}
