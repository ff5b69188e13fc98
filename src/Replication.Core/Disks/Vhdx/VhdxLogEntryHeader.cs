using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The 64-byte header at the start of a log entry ([MS-VHDX] 2.3.1.1). The entry's CRC-32C covers the whole entry
/// (<see cref="EntryLength"/> bytes) with the checksum field taken as zero.
/// </summary>
internal readonly record struct VhdxLogEntryHeader
{
    /// <summary>"loge" read as a little-endian 32-bit integer.</summary>
    public const uint ExpectedSignature = 0x65676F6C;

    /// <summary>Bytes of the header.</summary>
    public const int Size = 64;

    /// <summary>Offset of the checksum field.</summary>
    public const int ChecksumOffset = 4;

    /// <summary>Offset of the entry length field.</summary>
    public const int EntryLengthOffset = 8;

    /// <summary>Offset of the tail field.</summary>
    public const int TailOffset = 12;

    /// <summary>Offset of the sequence number field.</summary>
    public const int SequenceNumberOffset = 16;

    /// <summary>Offset of the descriptor count field.</summary>
    public const int DescriptorCountOffset = 24;

    /// <summary>Offset of the log GUID field.</summary>
    public const int LogGuidOffset = 32;

    /// <summary>Offset of the flushed file offset field.</summary>
    public const int FlushedFileOffsetOffset = 48;

    /// <summary>Offset of the last file offset field.</summary>
    public const int LastFileOffsetOffset = 56;

    /// <summary>The signature as read (checked by the log reader, which reports the field).</summary>
    public uint Signature { get; init; }

    /// <summary>CRC-32C of the whole entry.</summary>
    public uint Checksum { get; init; }

    /// <summary>Total bytes of the entry, a multiple of 4 KiB.</summary>
    public uint EntryLength { get; init; }

    /// <summary>Offset in the log of the first entry of the sequence this entry ends.</summary>
    public uint Tail { get; init; }

    /// <summary>Incremented from one entry to the next; never zero.</summary>
    public ulong SequenceNumber { get; init; }

    /// <summary>Number of zero and data descriptors.</summary>
    public uint DescriptorCount { get; init; }

    /// <summary>The header's LogGuid when the entry was written.</summary>
    public Guid LogGuid { get; init; }

    /// <summary>A file size known to be stable when the entry was written.</summary>
    public ulong FlushedFileOffset { get; init; }

    /// <summary>A file size that every allocated structure fits into.</summary>
    public ulong LastFileOffset { get; init; }

    /// <summary>Number of 4 KiB descriptor sectors for <paramref name="descriptorCount"/> descriptors: the header takes the room of two.</summary>
    public static long DescriptorSectors(long descriptorCount) => (descriptorCount + 2 + 127) / 128;

    /// <summary>Reads the header; the log reader validates every field.</summary>
    public static VhdxLogEntryHeader Read(ReadOnlySpan<byte> source) => new()
    {
        Signature = BinaryPrimitives.ReadUInt32LittleEndian(source),
        Checksum = BinaryPrimitives.ReadUInt32LittleEndian(source[ChecksumOffset..]),
        EntryLength = BinaryPrimitives.ReadUInt32LittleEndian(source[EntryLengthOffset..]),
        Tail = BinaryPrimitives.ReadUInt32LittleEndian(source[TailOffset..]),
        SequenceNumber = BinaryPrimitives.ReadUInt64LittleEndian(source[SequenceNumberOffset..]),
        DescriptorCount = BinaryPrimitives.ReadUInt32LittleEndian(source[DescriptorCountOffset..]),
        LogGuid = new Guid(source.Slice(LogGuidOffset, 16)),
        FlushedFileOffset = BinaryPrimitives.ReadUInt64LittleEndian(source[FlushedFileOffsetOffset..]),
        LastFileOffset = BinaryPrimitives.ReadUInt64LittleEndian(source[LastFileOffsetOffset..]),
    };

    /// <summary>Writes the header with the "loge" signature; the checksum is sealed later over the whole entry.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> d = destination[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, ExpectedSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(d[ChecksumOffset..], Checksum);
        BinaryPrimitives.WriteUInt32LittleEndian(d[EntryLengthOffset..], EntryLength);
        BinaryPrimitives.WriteUInt32LittleEndian(d[TailOffset..], Tail);
        BinaryPrimitives.WriteUInt64LittleEndian(d[SequenceNumberOffset..], SequenceNumber);
        BinaryPrimitives.WriteUInt32LittleEndian(d[DescriptorCountOffset..], DescriptorCount);
        LogGuid.TryWriteBytes(d[LogGuidOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(d[FlushedFileOffsetOffset..], FlushedFileOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[LastFileOffsetOffset..], LastFileOffset);
    }
}
