using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>One 32-byte entry of the region table ([MS-VHDX] 2.2.3.2): which region, where, how long, and whether a reader must understand it.</summary>
internal readonly record struct VhdxRegionTableEntry(Guid Guid, ulong FileOffset, uint Length, uint Flags)
{
    /// <summary>Bytes of one entry.</summary>
    public const int Size = 32;

    /// <summary>Offset of the GUID field.</summary>
    public const int GuidOffset = 0;

    /// <summary>Offset of the file offset field.</summary>
    public const int FileOffsetOffset = 16;

    /// <summary>Offset of the length field.</summary>
    public const int LengthOffset = 24;

    /// <summary>Offset of the required field.</summary>
    public const int RequiredOffset = 28;

    /// <summary>True when a reader that does not know this region must refuse the file.</summary>
    public bool IsRequired => (Flags & 1) != 0;

    /// <summary>Reads an entry; every field is validated by the caller against the file.</summary>
    public static VhdxRegionTableEntry Read(ReadOnlySpan<byte> source) => new(
        new Guid(source.Slice(GuidOffset, 16)),
        BinaryPrimitives.ReadUInt64LittleEndian(source[FileOffsetOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[LengthOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[RequiredOffset..]));

    /// <summary>Writes the entry.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Guid.TryWriteBytes(destination[GuidOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[FileOffsetOffset..], FileOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LengthOffset..], Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[RequiredOffset..], Flags);
    }
}
