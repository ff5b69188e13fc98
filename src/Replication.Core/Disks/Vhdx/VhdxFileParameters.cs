using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>The file parameters metadata item ([MS-VHDX] 2.6.2.1): block size and the LeaveBlockAllocated and HasParent flags.</summary>
internal readonly record struct VhdxFileParameters(uint BlockSize, bool LeaveBlockAllocated, bool HasParent)
{
    /// <summary>Bytes of the item.</summary>
    public const int Size = 8;

    /// <summary>Offset of the block size field.</summary>
    public const int BlockSizeOffset = 0;

    /// <summary>Offset of the flags field.</summary>
    public const int FlagsOffset = 4;

    /// <summary>Reads the item; the block size is validated by the caller.</summary>
    public static VhdxFileParameters Read(ReadOnlySpan<byte> source)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(source[FlagsOffset..]);
        return new VhdxFileParameters(BinaryPrimitives.ReadUInt32LittleEndian(source[BlockSizeOffset..]), (flags & 1) != 0, (flags & 2) != 0);
    }

    /// <summary>Writes the item.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[BlockSizeOffset..], BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FlagsOffset..], (LeaveBlockAllocated ? 1u : 0u) | (HasParent ? 2u : 0u));
    }
}
