using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// One 64-bit BAT entry ([MS-VHDX] 2.5.1): a 3-bit state in bits 0-2, 17 reserved bits, and the block's file offset
/// in MiB in bits 20-63. The same layout serves payload and sector bitmap entries.
/// </summary>
internal readonly record struct VhdxBatEntry(ulong Value)
{
    /// <summary>Bytes of one entry.</summary>
    public const int Size = 8;

    /// <summary>Payload: not in this file (a differencing disk reads the parent; others read zeros).</summary>
    public const int PayloadNotPresent = 0;

    /// <summary>Payload: contents undefined; read as zeros.</summary>
    public const int PayloadUndefined = 1;

    /// <summary>Payload: defined to be zeros.</summary>
    public const int PayloadZero = 2;

    /// <summary>Payload: unmapped by the guest; read as zeros.</summary>
    public const int PayloadUnmapped = 3;

    /// <summary>Payload: every sector is in this file at <see cref="FileOffset"/>.</summary>
    public const int PayloadFullyPresent = 6;

    /// <summary>Payload (differencing only): sectors whose sector bitmap bit is set are in this file, the rest in the parent.</summary>
    public const int PayloadPartiallyPresent = 7;

    /// <summary>Sector bitmap: not allocated.</summary>
    public const int BitmapNotPresent = 0;

    /// <summary>Sector bitmap (differencing only): allocated at <see cref="FileOffset"/>.</summary>
    public const int BitmapPresent = 6;

    private const ulong StateMask = 0x7;
    private const ulong OffsetMask = ~0xFFFFFUL;

    /// <summary>The 3-bit state.</summary>
    public int State => (int)(Value & StateMask);

    /// <summary>The file offset in bytes (the MiB field shifted into place); validate against the file before use.</summary>
    public ulong FileOffset => Value & OffsetMask;

    /// <summary>An entry with a state and a 1 MiB-aligned file offset.</summary>
    public static VhdxBatEntry Create(int state, long fileOffset) => new(((ulong)fileOffset & OffsetMask) | ((ulong)state & StateMask));

    /// <summary>Reads an entry.</summary>
    public static VhdxBatEntry Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt64LittleEndian(source));

    /// <summary>Writes the entry.</summary>
    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt64LittleEndian(destination, Value);
}
