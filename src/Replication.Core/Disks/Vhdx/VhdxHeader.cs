using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// One of the two 4 KiB headers at 64 KiB and 128 KiB ([MS-VHDX] 2.2.2). The valid header with the higher
/// <see cref="SequenceNumber"/> is current; updates overwrite the other slot, so a torn write leaves the current
/// one intact.
/// </summary>
internal readonly record struct VhdxHeader
{
    /// <summary>"head" read as a little-endian 32-bit integer.</summary>
    public const uint ExpectedSignature = 0x64616568;

    /// <summary>Offset of the checksum field.</summary>
    public const int ChecksumOffset = 4;

    /// <summary>Offset of the sequence number field.</summary>
    public const int SequenceNumberOffset = 8;

    /// <summary>Offset of the FileWriteGuid field.</summary>
    public const int FileWriteGuidOffset = 16;

    /// <summary>Offset of the DataWriteGuid field.</summary>
    public const int DataWriteGuidOffset = 32;

    /// <summary>Offset of the LogGuid field.</summary>
    public const int LogGuidOffset = 48;

    /// <summary>Offset of the log version field.</summary>
    public const int LogVersionOffset = 64;

    /// <summary>Offset of the format version field.</summary>
    public const int VersionOffset = 66;

    /// <summary>Offset of the log length field.</summary>
    public const int LogLengthOffset = 68;

    /// <summary>Offset of the log offset field.</summary>
    public const int LogOffsetOffset = 72;

    /// <summary>The only format version this specification defines.</summary>
    public const ushort CurrentVersion = 1;

    /// <summary>Orders the two headers; the valid one with the higher value is current.</summary>
    public ulong SequenceNumber { get; init; }

    /// <summary>Renewed on the first modification of the file in each session.</summary>
    public Guid FileWriteGuid { get; init; }

    /// <summary>Renewed before the first change of user-visible data in each session.</summary>
    public Guid DataWriteGuid { get; init; }

    /// <summary>Zero when the log is empty; otherwise only log entries carrying this GUID are valid.</summary>
    public Guid LogGuid { get; init; }

    /// <summary>Log format version; must be 0.</summary>
    public ushort LogVersion { get; init; }

    /// <summary>Format version; must be 1.</summary>
    public ushort Version { get; init; }

    /// <summary>Length of the log in bytes, a multiple of 1 MiB.</summary>
    public uint LogLength { get; init; }

    /// <summary>Offset of the log in the file, a multiple of 1 MiB.</summary>
    public ulong LogOffset { get; init; }

    /// <summary>
    /// Reads a header. Returns false, with the failing field in <paramref name="failedField"/>, when the signature or
    /// the checksum is wrong: such a header is simply not valid, and the other one may still be.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdxHeader header, out string failedField)
    {
        header = default;
        if (BinaryPrimitives.ReadUInt32LittleEndian(source) != ExpectedSignature)
        {
            failedField = "Signature";
            return false;
        }

        if (!VhdxChecksum.IsValid(source[..VhdxLayout.HeaderSize], ChecksumOffset))
        {
            failedField = "Checksum";
            return false;
        }

        failedField = string.Empty;
        header = new VhdxHeader
        {
            SequenceNumber = BinaryPrimitives.ReadUInt64LittleEndian(source[SequenceNumberOffset..]),
            FileWriteGuid = new Guid(source.Slice(FileWriteGuidOffset, 16)),
            DataWriteGuid = new Guid(source.Slice(DataWriteGuidOffset, 16)),
            LogGuid = new Guid(source.Slice(LogGuidOffset, 16)),
            LogVersion = BinaryPrimitives.ReadUInt16LittleEndian(source[LogVersionOffset..]),
            Version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]),
            LogLength = BinaryPrimitives.ReadUInt32LittleEndian(source[LogLengthOffset..]),
            LogOffset = BinaryPrimitives.ReadUInt64LittleEndian(source[LogOffsetOffset..]),
        };
        return true;
    }

    /// <summary>Writes the whole 4 KiB header, reserved bytes zero, with its checksum.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> d = destination[..VhdxLayout.HeaderSize];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, ExpectedSignature);
        BinaryPrimitives.WriteUInt64LittleEndian(d[SequenceNumberOffset..], SequenceNumber);
        FileWriteGuid.TryWriteBytes(d[FileWriteGuidOffset..]);
        DataWriteGuid.TryWriteBytes(d[DataWriteGuidOffset..]);
        LogGuid.TryWriteBytes(d[LogGuidOffset..]);
        BinaryPrimitives.WriteUInt16LittleEndian(d[LogVersionOffset..], LogVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(d[VersionOffset..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(d[LogLengthOffset..], LogLength);
        BinaryPrimitives.WriteUInt64LittleEndian(d[LogOffsetOffset..], LogOffset);
        VhdxChecksum.Seal(d, ChecksumOffset);
    }
}
