using System.Buffers.Binary;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// One 32-byte metadata entry ([MS-HRL] section 2.4): a write of <see cref="DataLength"/> bytes at
/// <see cref="ByteOffset"/> of the virtual disk, whose data lies in the log before the metadata block.
/// </summary>
/// <param name="ByteOffset">Offset on the virtual disk; a multiple of 512.</param>
/// <param name="Checksum">The checksum of the 32 entry bytes, this field left out.</param>
/// <param name="DataLength">Length of the data; a positive multiple of 512.</param>
/// <param name="TimeStamp">Time of the write, seconds since 2000-01-01 UTC.</param>
/// <param name="MetaOperation">1 (write), the only operation.</param>
/// <param name="DataChecksum">The checksum of the data; 0 when not recorded (Hyper-V writes 0).</param>
/// <param name="Location">Tracing information; must be 0.</param>
/// <remarks>
/// The specification does not require sector alignment; this implementation does (Hyper-V's logs are aligned, and
/// replica targets such as page blobs accept only 512-byte aligned writes), so a misaligned entry is rejected.
/// </remarks>
internal readonly record struct HrlMetadataEntry(
    ulong ByteOffset,
    uint Checksum,
    uint DataLength,
    uint TimeStamp,
    byte MetaOperation,
    uint DataChecksum,
    byte Location)
{
    /// <summary>Size of an entry in bytes.</summary>
    public const int Size = HrlFormat.MetadataEntrySize;

    /// <summary>Structure name used in error messages.</summary>
    public const string StructureName = "HRL metadata entry";

    public const int ByteOffsetOffset = 0;
    public const int ChecksumOffset = 8;
    public const int DataLengthOffset = 12;
    public const int TimeStampOffset = 16;
    public const int MetaOperationOffset = 20;
    public const int DataChecksumOffset = 21;
    public const int LocationOffset = 25;
    public const int ReservedOffset = 26;

    /// <summary>Parses and validates an entry, or throws naming the file, offset and field.</summary>
    /// <exception cref="InvalidLogFormatException">A field is invalid.</exception>
    public static HrlMetadataEntry Read(ReadOnlySpan<byte> source, string? filePath, long fileOffset)
    {
        if (!TryParse(source, out HrlMetadataEntry entry, out HrlFormatError error))
        {
            throw error.ToException(filePath, fileOffset, StructureName);
        }

        return entry;
    }

    /// <summary>Parses and validates an entry; false (without allocating) when <see cref="Read"/> would throw.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out HrlMetadataEntry entry) => TryParse(source, out entry, out _);

    /// <summary>The checksum of an encoded entry (32 bytes, checksum field left out).</summary>
    public static uint ComputeChecksum(ReadOnlySpan<byte> encoded) => HrlChecksum.Compute(encoded[..Size], ChecksumOffset);

    /// <summary>Writes the entry exactly as held, reserved bytes zero.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> entry = destination[..Size];
        BinaryPrimitives.WriteUInt64LittleEndian(entry[ByteOffsetOffset..], ByteOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[ChecksumOffset..], Checksum);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[DataLengthOffset..], DataLength);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[TimeStampOffset..], TimeStamp);
        entry[MetaOperationOffset] = MetaOperation;
        BinaryPrimitives.WriteUInt32LittleEndian(entry[DataChecksumOffset..], DataChecksum);
        entry[LocationOffset] = Location;
        entry[ReservedOffset..].Clear();
    }

    /// <summary>Writes the entry with its checksum computed.</summary>
    public void WriteWithChecksum(Span<byte> destination)
    {
        (this with { Checksum = 0 }).WriteTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ChecksumOffset..], ComputeChecksum(destination));
    }

    private static bool TryParse(ReadOnlySpan<byte> source, out HrlMetadataEntry entry, out HrlFormatError error)
    {
        entry = default;
        source = source[..Size];
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(source[ChecksumOffset..]);
        uint computed = ComputeChecksum(source);
        if (checksum != computed)
        {
            error = new HrlFormatError("Checksum", ChecksumOffset, "the entry checksum does not match its contents", checksum, computed);
            return false;
        }

        byte operation = source[MetaOperationOffset];
        if (operation != HrlFormat.MetaOperationWrite)
        {
            error = new HrlFormatError("MetaOperation", MetaOperationOffset, "only the write operation (1) exists", operation, HrlFormat.MetaOperationWrite);
            return false;
        }

        byte location = source[LocationOffset];
        if (location != 0)
        {
            error = new HrlFormatError("Location", LocationOffset, "the location field must be 0", location, 0);
            return false;
        }

        int nonZero = source[ReservedOffset..].IndexOfAnyExcept((byte)0);
        if (nonZero >= 0)
        {
            error = new HrlFormatError("Reserved", ReservedOffset + nonZero, "reserved bytes must be 0", source[ReservedOffset + nonZero], 0);
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(source[DataLengthOffset..]);
        if (length == 0 || length % HrlFormat.SectorSize != 0)
        {
            error = new HrlFormatError("DataLength", DataLengthOffset, "the data length must be a positive multiple of 512", length);
            return false;
        }

        ulong byteOffset = BinaryPrimitives.ReadUInt64LittleEndian(source[ByteOffsetOffset..]);
        if (byteOffset % HrlFormat.SectorSize != 0 || byteOffset > (ulong)(long.MaxValue - length))
        {
            error = new HrlFormatError("ByteOffset", ByteOffsetOffset, "the disk offset must be a multiple of 512 and the write must end below 2^63", byteOffset);
            return false;
        }

        entry = new HrlMetadataEntry(
            byteOffset,
            checksum,
            length,
            BinaryPrimitives.ReadUInt32LittleEndian(source[TimeStampOffset..]),
            operation,
            BinaryPrimitives.ReadUInt32LittleEndian(source[DataChecksumOffset..]),
            location);
        error = default;
        return true;
    }
}
