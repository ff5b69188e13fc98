using System.Buffers.Binary;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// The 32-byte header that starts each metadata block ([MS-HRL] section 2.3).
/// </summary>
/// <param name="PreviousMetadataLocation">
/// Distance in bytes back from this block to the previous metadata block; 0 for the first block of the log.
/// </param>
/// <param name="ValidMetadataEntries">Number of entries that follow this header in the block.</param>
/// <param name="Checksum">The checksum of the 32 header bytes, this field left out (entries are not covered).</param>
/// <remarks>
/// <see cref="TryRead"/> checks the checksum and the reserved bytes only; the location and the count depend on the
/// block's position and the log's metadata size, and are checked by <see cref="HrlReader"/>.
/// </remarks>
internal readonly record struct HrlMetadataHeader(ulong PreviousMetadataLocation, uint ValidMetadataEntries, uint Checksum)
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = HrlFormat.MetadataHeaderSize;

    /// <summary>Structure name used in error messages.</summary>
    public const string StructureName = "HRL metadata header";

    public const int PreviousMetadataLocationOffset = 0;
    public const int ValidMetadataEntriesOffset = 8;
    public const int ChecksumOffset = 12;
    public const int ReservedOffset = 16;

    /// <summary>Parses and validates a header, or throws naming the file, offset and field.</summary>
    /// <exception cref="InvalidLogFormatException">The checksum or the reserved bytes are wrong.</exception>
    public static HrlMetadataHeader Read(ReadOnlySpan<byte> source, string? filePath, long fileOffset)
    {
        if (!TryParse(source, out HrlMetadataHeader header, out HrlFormatError error))
        {
            throw error.ToException(filePath, fileOffset, StructureName);
        }

        return header;
    }

    /// <summary>Parses and validates a header; false (without allocating) when <see cref="Read"/> would throw.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out HrlMetadataHeader header) => TryParse(source, out header, out _);

    /// <summary>The checksum of an encoded header (32 bytes, checksum field left out).</summary>
    public static uint ComputeChecksum(ReadOnlySpan<byte> encoded) => HrlChecksum.Compute(encoded[..Size], ChecksumOffset);

    /// <summary>Writes the header exactly as held, reserved bytes zero.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> header = destination[..Size];
        BinaryPrimitives.WriteUInt64LittleEndian(header[PreviousMetadataLocationOffset..], PreviousMetadataLocation);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ValidMetadataEntriesOffset..], ValidMetadataEntries);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ChecksumOffset..], Checksum);
        header[ReservedOffset..].Clear();
    }

    /// <summary>Writes the header with its checksum computed.</summary>
    public void WriteWithChecksum(Span<byte> destination)
    {
        (this with { Checksum = 0 }).WriteTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ChecksumOffset..], ComputeChecksum(destination));
    }

    private static bool TryParse(ReadOnlySpan<byte> source, out HrlMetadataHeader header, out HrlFormatError error)
    {
        header = default;
        source = source[..Size];
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(source[ChecksumOffset..]);
        uint computed = ComputeChecksum(source);
        if (checksum != computed)
        {
            error = new HrlFormatError("Checksum", ChecksumOffset, "the metadata header checksum does not match its contents", checksum, computed);
            return false;
        }

        int nonZero = source[ReservedOffset..].IndexOfAnyExcept((byte)0);
        if (nonZero >= 0)
        {
            error = new HrlFormatError("Reserved", ReservedOffset + nonZero, "reserved bytes must be 0", source[ReservedOffset + nonZero], 0);
            return false;
        }

        header = new HrlMetadataHeader(
            BinaryPrimitives.ReadUInt64LittleEndian(source[PreviousMetadataLocationOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[ValidMetadataEntriesOffset..]),
            checksum);
        error = default;
        return true;
    }
}
