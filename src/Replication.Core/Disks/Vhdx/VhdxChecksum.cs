using System.Buffers.Binary;
using System.IO.Hashing;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// CRC-32C as VHDX uses it: over a whole structure with its own 4-byte checksum field counted as zero, stored
/// little-endian.
/// </summary>
internal static class VhdxChecksum
{
    private static ReadOnlySpan<byte> ZeroField => [0, 0, 0, 0];

    /// <summary>The CRC-32C of <paramref name="data"/> with the field at <paramref name="checksumOffset"/> taken as zero.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, int checksumOffset)
    {
        var crc = new Crc32(Crc32ParameterSet.Crc32C);
        crc.Append(data[..checksumOffset]);
        crc.Append(ZeroField);
        crc.Append(data[(checksumOffset + 4)..]);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>True when the stored checksum matches the content.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data, int checksumOffset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(data[checksumOffset..]) == Compute(data, checksumOffset);

    /// <summary>Computes the checksum and stores it in its field.</summary>
    public static void Seal(Span<byte> data, int checksumOffset) =>
        BinaryPrimitives.WriteUInt32LittleEndian(data[checksumOffset..], Compute(data, checksumOffset));

    /// <summary>A running CRC-32C for structures read in pieces (log entries).</summary>
    public static Crc32 CreateIncremental() => new(Crc32ParameterSet.Crc32C);
}
