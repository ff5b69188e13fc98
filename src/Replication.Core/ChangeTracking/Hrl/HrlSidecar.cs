using System.Buffers.Binary;
using System.Globalization;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// The integrity sidecar stored beside a sealed log as <c>&lt;log&gt;.xxh128</c>: the log's length, its
/// <c>UniqueId</c> and the XxHash128 of all its bytes, as one durable record (<see cref="RecordFormat"/>, 64 bytes):
/// <code>
///  0  Frame: magic "HRLXH128", version 2, header size, payload length (40)
/// 16  LogLength            i64
/// 24  LogUniqueId          16 bytes (GUID, as in the log header)
/// 40  Hash                 16 bytes, XxHash128 (seed 0) in canonical big-endian order, as xxh128sum prints it
/// 56  XxHash3 of bytes 0-55
/// </code>
/// </summary>
/// <param name="LogLength">Length of the log file in bytes.</param>
/// <param name="LogUniqueId">The log header's <c>UniqueId</c>.</param>
/// <param name="Hash">XxHash128 (seed 0) of the whole log file.</param>
public readonly record struct HrlSidecar(long LogLength, Guid LogUniqueId, UInt128 Hash)
{
    internal const string StructureName = "HRL integrity sidecar";
    internal const int PayloadSize = 40;
    internal const int HashOffset = 40;

    /// <summary>The sidecar's record format.</summary>
    internal static readonly RecordFormat Format = new(StructureName, "HRLXH128"u8, version: 2, PayloadSize, fixedPayloadLength: PayloadSize);

    /// <summary>Size of the sidecar file in bytes.</summary>
    internal static int Size => RecordFormat.SizeFor(PayloadSize);

    /// <summary>Parses and validates a sidecar: its record frame, then its fields.</summary>
    /// <exception cref="InvalidRecordException">The sidecar is corrupt, truncated or of another version.</exception>
    internal static HrlSidecar Read(ReadOnlySpan<byte> source, string? filePath = null)
    {
        if (source.Length != Size)
        {
            throw Format.Fail(filePath, 0, "Length", string.Create(CultureInfo.InvariantCulture, $"the sidecar is {source.Length} bytes, expected {Size}"));
        }

        RecordReader r = Format.Decode(source, filePath);
        long logLength = r.Int64("LogLength");
        if (logLength < HrlFileHeader.Size)
        {
            throw r.Error("LogLength", string.Create(CultureInfo.InvariantCulture, $"{logLength} is shorter than a log header"));
        }

        Guid uniqueId = r.Guid("LogUniqueId");
        UInt128 hash = BinaryPrimitives.ReadUInt128BigEndian(r.Bytes(16, "Hash"));
        return new HrlSidecar(logLength, uniqueId, hash);
    }

    /// <summary>The sidecar's bytes.</summary>
    internal byte[] Encode()
    {
        long length = LogLength;
        Guid id = LogUniqueId;
        UInt128 hash = Hash;
        return Format.Encode(PayloadSize, (ref RecordWriter w) =>
        {
            w.Int64(length);
            w.Guid(id);
            Span<byte> big = stackalloc byte[16];
            BinaryPrimitives.WriteUInt128BigEndian(big, hash);
            w.Bytes(big);
        });
    }
}
