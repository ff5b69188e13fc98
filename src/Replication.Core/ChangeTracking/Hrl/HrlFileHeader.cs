using System.Buffers.Binary;
using System.Text;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// The 4096-byte header at offset 0 of an HRL file ([MS-HRL] section 2.2), field for field as stored. Version 2 adds
/// <see cref="Vhd2DataWriteGuid"/>; in version 1 those 16 bytes are reserved.
/// </summary>
/// <remarks>
/// <see cref="Read"/> and <see cref="TryRead"/> check the cookie, the version, the checksum and every field whose value
/// does not depend on the file's length; the checks against the file's length are made by <see cref="HrlReader"/>.
/// </remarks>
public readonly struct HrlFileHeader
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = HrlFormat.HeaderSize;

    /// <summary>Structure name used in error messages.</summary>
    internal const string StructureName = "HRL file header";

    internal const int CookieOffset = 0;
    internal const int LogFormatVersionOffset = 8;
    internal const int TimeStampOffset = 12;
    internal const int CreatorApplicationOffset = 16;
    internal const int CreatorVersionOffset = 20;
    internal const int OriginalSizeOffset = 24;
    internal const int CurrentSizeOffset = 32;
    internal const int ChecksumOffset = 40;
    internal const int EolLocationOffset = 44;
    internal const int ErrorCodeOffset = 52;
    internal const int MetadataSizeOffset = 56;
    internal const int UniqueIdOffset = 60;
    internal const int PreviousUniqueIdOffset = 76;
    internal const int LastModifiedTimeStampOffset = 92;
    internal const int TotalMetadataEntriesOffset = 96;
    internal const int FileTypeOffset = 104;
    internal const int FlagsOffset = 108;
    internal const int Vhd2DataWriteGuidOffset = 110;
    internal const int ReservedOffsetVersion1 = 110;
    internal const int ReservedOffsetVersion2 = 126;
    internal const int CookieLength = 8;
    internal const int CreatorApplicationLength = 4;

    /// <summary>"msctlog" and one padding byte (written as NUL; a space is accepted).</summary>
    private static ReadOnlySpan<byte> Cookie => "msctlog\0"u8;

    private readonly string? _creatorApplication;

    /// <summary><c>LogFormatVersion</c>: 0x00010000 (version 1) or 0x00020000 (version 2).</summary>
    public uint LogFormatVersion { get; internal init; }

    /// <summary><c>TimeStamp</c>: creation time, seconds since 2000-01-01 UTC.</summary>
    public uint TimeStamp { get; internal init; }

    /// <summary>
    /// <c>CreatorApplication</c>: up to four single-byte characters ("ct" for Hyper-V), trailing NULs removed. Not
    /// verified by readers.
    /// </summary>
    public string CreatorApplication
    {
        get => _creatorApplication ?? string.Empty;
        internal init => _creatorApplication = value;
    }

    /// <summary><c>CreatorVersion</c>: version of the creating application. Not verified by readers.</summary>
    public uint CreatorVersion { get; internal init; }

    /// <summary><c>OriginalSize</c>: size of the file when it was created (0 in Hyper-V's logs and ours).</summary>
    public ulong OriginalSize { get; internal init; }

    /// <summary><c>CurrentSize</c>: size of the file; in a sealed log at least <see cref="EolLocation"/>.</summary>
    public ulong CurrentSize { get; internal init; }

    /// <summary><c>Checksum</c>: <see cref="ComputeChecksum"/> of the encoded header.</summary>
    public uint Checksum { get; internal init; }

    /// <summary><c>EOLLocation</c>: end of the log; 0 while the log is open for writing or if it was not closed cleanly.</summary>
    public ulong EolLocation { get; internal init; }

    /// <summary><c>ErrorCode</c>: an error recorded by the writer; 0 when none. Reported, not interpreted.</summary>
    public int ErrorCode { get; internal init; }

    /// <summary><c>MetadataSize</c>: size of each metadata block, a multiple of 512 (default 4096).</summary>
    public uint MetadataSize { get; internal init; }

    /// <summary><c>UniqueId</c>: identifies this log.</summary>
    public Guid UniqueId { get; internal init; }

    /// <summary><c>PreviousUniqueId</c>: the <see cref="UniqueId"/> of the previous log of the same disk (the chain).</summary>
    public Guid PreviousUniqueId { get; internal init; }

    /// <summary><c>LastModifiedTimeStamp</c>: seconds since 2000-01-01 UTC of the last header update (the seal).</summary>
    public uint LastModifiedTimeStamp { get; internal init; }

    /// <summary><c>TotalMetadataEntries</c>: number of entries in the sealed log.</summary>
    public ulong TotalMetadataEntries { get; internal init; }

    /// <summary><c>FileType</c>: 0 for an HRL file.</summary>
    public uint FileType { get; internal init; }

    /// <summary><c>Flags</c>: unused, 0.</summary>
    public ushort Flags { get; internal init; }

    /// <summary>
    /// <c>Vhd2DataWriteGuid</c> (version 2 only; <see cref="Guid.Empty"/> in version 1): the VHDX DataWriteGuid when
    /// tracking started, so a change made while tracking was off can be detected.
    /// </summary>
    public Guid Vhd2DataWriteGuid { get; internal init; }

    /// <summary>True when <see cref="EolLocation"/> is set: the log was sealed (closed cleanly).</summary>
    public bool IsClosedCleanly => EolLocation != 0;

    /// <summary><see cref="TimeStamp"/> as an instant.</summary>
    public DateTimeOffset CreationTime => HrlTimestamp.ToDateTimeOffset(TimeStamp);

    /// <summary><see cref="LastModifiedTimeStamp"/> as an instant.</summary>
    public DateTimeOffset LastModifiedTime => HrlTimestamp.ToDateTimeOffset(LastModifiedTimeStamp);

    /// <summary>Parses and validates a header.</summary>
    /// <param name="source">At least <see cref="Size"/> bytes from offset 0 of the file.</param>
    /// <param name="filePath">The file, for the error message.</param>
    /// <exception cref="InvalidLogFormatException">The cookie, version, checksum or a field is invalid.</exception>
    internal static HrlFileHeader Read(ReadOnlySpan<byte> source, string? filePath = null)
    {
        if (!TryParse(source, out HrlFileHeader header, out HrlFormatError error))
        {
            throw error.ToException(filePath, 0, StructureName);
        }

        return header;
    }

    /// <summary>Parses and validates a header; false when <see cref="Read"/> would throw.</summary>
    internal static bool TryRead(ReadOnlySpan<byte> source, out HrlFileHeader header) => TryParse(source, out header, out _);

    /// <summary>The checksum of an encoded header: the one's complement of its byte sum, the checksum field left out.</summary>
    /// <param name="encoded">At least <see cref="Size"/> bytes; only the first <see cref="Size"/> count.</param>
    internal static uint ComputeChecksum(ReadOnlySpan<byte> encoded) => HrlChecksum.Compute(encoded[..Size], ChecksumOffset);

    /// <summary>Writes the header, exactly as held (including <see cref="Checksum"/>), and zeros the reserved bytes.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <exception cref="ArgumentException">The destination is too small or <see cref="CreatorApplication"/> does not fit.</exception>
    internal void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"The HRL file header needs {Size} bytes.", nameof(destination));
        }

        Span<byte> header = destination[..Size];
        header.Clear();
        Cookie.CopyTo(header[CookieOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[LogFormatVersionOffset..], LogFormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[TimeStampOffset..], TimeStamp);
        EncodeCreatorApplication(CreatorApplication, header.Slice(CreatorApplicationOffset, CreatorApplicationLength));
        BinaryPrimitives.WriteUInt32LittleEndian(header[CreatorVersionOffset..], CreatorVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(header[OriginalSizeOffset..], OriginalSize);
        BinaryPrimitives.WriteUInt64LittleEndian(header[CurrentSizeOffset..], CurrentSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header[ChecksumOffset..], Checksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header[EolLocationOffset..], EolLocation);
        BinaryPrimitives.WriteInt32LittleEndian(header[ErrorCodeOffset..], ErrorCode);
        BinaryPrimitives.WriteUInt32LittleEndian(header[MetadataSizeOffset..], MetadataSize);
        UniqueId.TryWriteBytes(header[UniqueIdOffset..]);
        PreviousUniqueId.TryWriteBytes(header[PreviousUniqueIdOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[LastModifiedTimeStampOffset..], LastModifiedTimeStamp);
        BinaryPrimitives.WriteUInt64LittleEndian(header[TotalMetadataEntriesOffset..], TotalMetadataEntries);
        BinaryPrimitives.WriteUInt32LittleEndian(header[FileTypeOffset..], FileType);
        BinaryPrimitives.WriteUInt16LittleEndian(header[FlagsOffset..], Flags);
        if (LogFormatVersion != HrlFormat.Version1)
        {
            Vhd2DataWriteGuid.TryWriteBytes(header[Vhd2DataWriteGuidOffset..]);
        }
    }

    /// <summary>Writes the header with its <see cref="Checksum"/> computed, and returns the header as written.</summary>
    internal HrlFileHeader WriteWithChecksum(Span<byte> destination)
    {
        HrlFileHeader stamped = this with { Checksum = 0 };
        stamped.WriteTo(destination);
        uint checksum = ComputeChecksum(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ChecksumOffset..], checksum);
        return stamped with { Checksum = checksum };
    }

    /// <summary>Validates that a creator application name can be stored.</summary>
    internal static bool IsValidCreatorApplication(string value)
    {
        if (value.Length > CreatorApplicationLength)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (c > 0xFF)
            {
                return false;
            }
        }

        return true;
    }

    private static void EncodeCreatorApplication(string value, Span<byte> destination)
    {
        if (!IsValidCreatorApplication(value))
        {
            throw new ArgumentException("CreatorApplication holds at most four single-byte (Latin-1) characters.", nameof(value));
        }

        Encoding.Latin1.GetBytes(value, destination);
    }

    private static bool TryParse(ReadOnlySpan<byte> source, out HrlFileHeader header, out HrlFormatError error)
    {
        header = default;
        if (source.Length < Size)
        {
            error = new HrlFormatError("length", 0, "the header is cut short", (ulong)source.Length, Size);
            return false;
        }

        source = source[..Size];
        if (!source[..(CookieLength - 1)].SequenceEqual(Cookie[..(CookieLength - 1)]) ||
            (source[CookieLength - 1] != 0 && source[CookieLength - 1] != (byte)' '))
        {
            error = new HrlFormatError("Cookie", CookieOffset, "not an HRL file: the cookie is not \"msctlog\"", BinaryPrimitives.ReadUInt64LittleEndian(source));
            return false;
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(source[LogFormatVersionOffset..]);
        if (version != HrlFormat.Version1 && version != HrlFormat.Version2)
        {
            error = new HrlFormatError("LogFormatVersion", LogFormatVersionOffset, "unsupported version (0x00010000 and 0x00020000 are known)", version);
            return false;
        }

        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(source[ChecksumOffset..]);
        uint computed = ComputeChecksum(source);
        if (checksum != computed)
        {
            error = new HrlFormatError("Checksum", ChecksumOffset, "the header checksum does not match its contents", checksum, computed);
            return false;
        }

        uint fileType = BinaryPrimitives.ReadUInt32LittleEndian(source[FileTypeOffset..]);
        if (fileType != 0)
        {
            error = new HrlFormatError("FileType", FileTypeOffset, "an HRL file has file type 0", fileType, 0);
            return false;
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(source[FlagsOffset..]);
        if (flags != 0)
        {
            error = new HrlFormatError("Flags", FlagsOffset, "flags are unused and must be 0", flags, 0);
            return false;
        }

        int reservedOffset = version == HrlFormat.Version1 ? ReservedOffsetVersion1 : ReservedOffsetVersion2;
        int nonZero = source[reservedOffset..].IndexOfAnyExcept((byte)0);
        if (nonZero >= 0)
        {
            error = new HrlFormatError("Reserved", reservedOffset + nonZero, "reserved bytes must be 0", source[reservedOffset + nonZero], 0);
            return false;
        }

        uint metadataSize = BinaryPrimitives.ReadUInt32LittleEndian(source[MetadataSizeOffset..]);
        if (metadataSize < HrlFormat.SectorSize || metadataSize > HrlFormat.MaxMetadataSize || metadataSize % HrlFormat.SectorSize != 0)
        {
            error = new HrlFormatError(
                "MetadataSize",
                MetadataSizeOffset,
                "the metadata size must be a multiple of 512 between 512 and 1 MiB",
                metadataSize);
            return false;
        }

        ulong eol = BinaryPrimitives.ReadUInt64LittleEndian(source[EolLocationOffset..]);
        if (eol != 0 && (eol % HrlFormat.SectorSize != 0 || eol < (ulong)Size + metadataSize || eol > long.MaxValue))
        {
            error = new HrlFormatError(
                "EOLLocation",
                EolLocationOffset,
                "the end of the log must be 0 (not closed) or a multiple of 512 past the header and one metadata block",
                eol);
            return false;
        }

        ulong originalSize = BinaryPrimitives.ReadUInt64LittleEndian(source[OriginalSizeOffset..]);
        if (originalSize > long.MaxValue)
        {
            error = new HrlFormatError("OriginalSize", OriginalSizeOffset, "the size is out of range", originalSize);
            return false;
        }

        ulong currentSize = BinaryPrimitives.ReadUInt64LittleEndian(source[CurrentSizeOffset..]);
        if (currentSize > long.MaxValue)
        {
            error = new HrlFormatError("CurrentSize", CurrentSizeOffset, "the size is out of range", currentSize);
            return false;
        }

        header = new HrlFileHeader
        {
            LogFormatVersion = version,
            TimeStamp = BinaryPrimitives.ReadUInt32LittleEndian(source[TimeStampOffset..]),
            CreatorApplication = Encoding.Latin1.GetString(source.Slice(CreatorApplicationOffset, CreatorApplicationLength).TrimEnd((byte)0)),
            CreatorVersion = BinaryPrimitives.ReadUInt32LittleEndian(source[CreatorVersionOffset..]),
            OriginalSize = originalSize,
            CurrentSize = currentSize,
            Checksum = checksum,
            EolLocation = eol,
            ErrorCode = BinaryPrimitives.ReadInt32LittleEndian(source[ErrorCodeOffset..]),
            MetadataSize = metadataSize,
            UniqueId = new Guid(source.Slice(UniqueIdOffset, 16)),
            PreviousUniqueId = new Guid(source.Slice(PreviousUniqueIdOffset, 16)),
            LastModifiedTimeStamp = BinaryPrimitives.ReadUInt32LittleEndian(source[LastModifiedTimeStampOffset..]),
            TotalMetadataEntries = BinaryPrimitives.ReadUInt64LittleEndian(source[TotalMetadataEntriesOffset..]),
            FileType = fileType,
            Flags = flags,
            Vhd2DataWriteGuid = version == HrlFormat.Version1 ? Guid.Empty : new Guid(source.Slice(Vhd2DataWriteGuidOffset, 16)),
        };
        error = default;
        return true;
    }
}
