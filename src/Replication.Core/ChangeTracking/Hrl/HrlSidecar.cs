using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// The integrity sidecar stored beside a sealed log as <c>&lt;log&gt;.xxh128</c>: the log's length, its
/// <c>UniqueId</c> and the XxHash128 of all its bytes. 64 bytes, little-endian, self-checked with CRC-32C:
/// <code>
///  0  Magic "HRLXH128"     8 bytes
///  8  Version (1)          u32
/// 12  Reserved (0)         u32
/// 16  LogLength            u64
/// 24  LogUniqueId          16 bytes (GUID, as in the log header)
/// 40  Hash                 16 bytes, XxHash128 (seed 0) in canonical big-endian order, as xxh128sum prints it
/// 56  Reserved (0)         u32
/// 60  Crc32C of bytes 0-59 u32
/// </code>
/// </summary>
/// <param name="LogLength">Length of the log file in bytes.</param>
/// <param name="LogUniqueId">The log header's <c>UniqueId</c>.</param>
/// <param name="Hash">XxHash128 (seed 0) of the whole log file.</param>
public readonly record struct HrlSidecar(long LogLength, Guid LogUniqueId, UInt128 Hash)
{
    /// <summary>Size of the sidecar in bytes.</summary>
    public const int Size = 64;

    /// <summary>The version this library writes and reads.</summary>
    public const uint CurrentVersion = 1;

    internal const string StructureName = "HRL integrity sidecar";
    internal const int MagicOffset = 0;
    internal const int VersionOffset = 8;
    internal const int Reserved1Offset = 12;
    internal const int LogLengthOffset = 16;
    internal const int LogUniqueIdOffset = 24;
    internal const int HashOffset = 40;
    internal const int Reserved2Offset = 56;
    internal const int CrcOffset = 60;

    private static ReadOnlySpan<byte> Magic => "HRLXH128"u8;

    /// <summary>Parses and validates a sidecar: magic, then version, then CRC, then fields.</summary>
    /// <param name="source">The sidecar file's bytes; exactly <see cref="Size"/>.</param>
    /// <param name="filePath">The sidecar file, for the error message.</param>
    /// <exception cref="InvalidLogFormatException">The sidecar is corrupt, truncated or of another version.</exception>
    public static HrlSidecar Read(ReadOnlySpan<byte> source, string? filePath = null)
    {
        if (source.Length != Size)
        {
            throw Error(filePath, 0, "length", string.Create(CultureInfo.InvariantCulture, $"the sidecar is {source.Length} bytes, expected {Size}"));
        }

        if (!source[..Magic.Length].SequenceEqual(Magic))
        {
            throw Error(filePath, MagicOffset, "Magic", "not an HRL integrity sidecar");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(source[VersionOffset..]);
        if (version != CurrentVersion)
        {
            throw Error(filePath, VersionOffset, "Version", string.Create(CultureInfo.InvariantCulture, $"version {version} is not supported (expected {CurrentVersion})"));
        }

        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(source[CrcOffset..]);
        uint computed = ComputeCrc(source);
        if (crc != computed)
        {
            throw Error(filePath, CrcOffset, "Crc32C", string.Create(CultureInfo.InvariantCulture, $"the sidecar's CRC-32C does not match its contents (stored 0x{crc:X8}, computed 0x{computed:X8})"));
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(source[Reserved1Offset..]) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(source[Reserved2Offset..]) != 0)
        {
            throw Error(filePath, Reserved1Offset, "Reserved", "reserved fields must be 0");
        }

        long logLength = BinaryPrimitives.ReadInt64LittleEndian(source[LogLengthOffset..]);
        if (logLength < HrlFileHeader.Size)
        {
            throw Error(filePath, LogLengthOffset, "LogLength", string.Create(CultureInfo.InvariantCulture, $"{logLength} is shorter than a log header"));
        }

        return new HrlSidecar(
            logLength,
            new Guid(source.Slice(LogUniqueIdOffset, 16)),
            BinaryPrimitives.ReadUInt128BigEndian(source[HashOffset..]));
    }

    /// <summary>Writes the sidecar with its CRC.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> sidecar = destination[..Size];
        sidecar.Clear();
        Magic.CopyTo(sidecar);
        BinaryPrimitives.WriteUInt32LittleEndian(sidecar[VersionOffset..], CurrentVersion);
        BinaryPrimitives.WriteInt64LittleEndian(sidecar[LogLengthOffset..], LogLength);
        LogUniqueId.TryWriteBytes(sidecar[LogUniqueIdOffset..]);
        BinaryPrimitives.WriteUInt128BigEndian(sidecar[HashOffset..], Hash);
        BinaryPrimitives.WriteUInt32LittleEndian(sidecar[CrcOffset..], ComputeCrc(sidecar));
    }

    private static uint ComputeCrc(ReadOnlySpan<byte> sidecar) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, sidecar[..CrcOffset]);

    private static InvalidLogFormatException Error(string? filePath, long offset, string field, string detail) =>
        new(filePath, offset, StructureName, field, detail);
}
