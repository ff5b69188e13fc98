using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// A 4 KiB log data sector ([MS-VHDX] 2.3.1.4): "data", the high half of the entry's sequence number, bytes 8 to
/// 4091 of the update, and the low half of the sequence number. The split sequence number exposes a torn sector.
/// </summary>
internal static class VhdxLogDataSector
{
    /// <summary>"data" read as a little-endian 32-bit integer.</summary>
    public const uint ExpectedSignature = 0x61746164;

    /// <summary>Offset of the high half of the sequence number.</summary>
    public const int SequenceHighOffset = 4;

    /// <summary>Offset of the update's bytes 8 to 4091.</summary>
    public const int DataOffset = 8;

    /// <summary>Bytes of update carried in the sector.</summary>
    public const int DataLength = 4084;

    /// <summary>Offset of the low half of the sequence number.</summary>
    public const int SequenceLowOffset = 4092;

    /// <summary>True when the sector has the "data" signature and both halves of <paramref name="sequenceNumber"/>.</summary>
    public static bool IsValid(ReadOnlySpan<byte> sector, ulong sequenceNumber) =>
        BinaryPrimitives.ReadUInt32LittleEndian(sector) == ExpectedSignature
        && BinaryPrimitives.ReadUInt32LittleEndian(sector[SequenceHighOffset..]) == (uint)(sequenceNumber >> 32)
        && BinaryPrimitives.ReadUInt32LittleEndian(sector[SequenceLowOffset..]) == (uint)sequenceNumber;

    /// <summary>Writes the log form of a 4 KiB <paramref name="update"/> (its first 8 and last 4 bytes go in the descriptor).</summary>
    public static void WriteTo(Span<byte> destination, ReadOnlySpan<byte> update, ulong sequenceNumber)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, ExpectedSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SequenceHighOffset..], (uint)(sequenceNumber >> 32));
        update.Slice(DataOffset, DataLength).CopyTo(destination[DataOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SequenceLowOffset..], (uint)sequenceNumber);
    }

    /// <summary>Rebuilds the 4 KiB update from the data sector and its descriptor.</summary>
    public static void Restore(ReadOnlySpan<byte> sector, in VhdxLogDescriptor descriptor, Span<byte> update)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(update, descriptor.LeadingBytes);
        sector.Slice(DataOffset, DataLength).CopyTo(update[DataOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(update[(VhdxLayout.LogSectorSize - 4)..], descriptor.TrailingBytes);
    }
}
