using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>One 32-byte entry of the metadata table ([MS-VHDX] 2.6.1.2): an item's id, where it lies in the metadata region, and its flags.</summary>
internal readonly record struct VhdxMetadataTableEntry(Guid ItemId, uint Offset, uint Length, uint Flags)
{
    /// <summary>Bytes of one entry.</summary>
    public const int Size = 32;

    /// <summary>Flag: user metadata rather than system metadata.</summary>
    public const uint IsUserFlag = 1;

    /// <summary>Flag: virtual disk metadata (copied to a child on fork) rather than file metadata.</summary>
    public const uint IsVirtualDiskFlag = 2;

    /// <summary>Flag: a reader that does not know the item must refuse the file.</summary>
    public const uint IsRequiredFlag = 4;

    /// <summary>Offset of the item id field.</summary>
    public const int ItemIdOffset = 0;

    /// <summary>Offset of the item offset field.</summary>
    public const int OffsetOffset = 16;

    /// <summary>Offset of the item length field.</summary>
    public const int LengthOffset = 20;

    /// <summary>Offset of the flags field.</summary>
    public const int FlagsOffset = 24;

    /// <summary>True for user metadata.</summary>
    public bool IsUser => (Flags & IsUserFlag) != 0;

    /// <summary>True when a reader must understand the item.</summary>
    public bool IsRequired => (Flags & IsRequiredFlag) != 0;

    /// <summary>Reads an entry; the caller validates offset and length against the region.</summary>
    public static VhdxMetadataTableEntry Read(ReadOnlySpan<byte> source) => new(
        new Guid(source.Slice(ItemIdOffset, 16)),
        BinaryPrimitives.ReadUInt32LittleEndian(source[OffsetOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[LengthOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[FlagsOffset..]));

    /// <summary>Writes the entry, reserved bytes zero.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[..Size].Clear();
        ItemId.TryWriteBytes(destination[ItemIdOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[OffsetOffset..], Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LengthOffset..], Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FlagsOffset..], Flags);
    }
}
