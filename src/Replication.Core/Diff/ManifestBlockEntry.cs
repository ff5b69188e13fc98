using System.Buffers.Binary;
using System.IO.Hashing;

namespace Replication.Core.Diff;

/// <summary>
/// One 32-byte entry of a manifest's block table (little-endian), one per coarse block:
/// <code>
///   0  Hash          16  XxHash128 of the block's bytes; 0 exactly when the block reads as zeros
///  16  FineChecksum   8  XxHash3-64 of the block's run of fine hashes as stored in the file
///  24  Flags          4  bit 0 zero, bit 1 unknown (not hashed yet; only in a partial manifest)
///  28  Checksum       4  low 32 bits of XxHash3-64 of bytes 0..28, seeded with the block index
/// </code>
/// Each entry checks itself (seeded with its index, so an entry moved to another slot fails too): a partial manifest
/// written while a build was killed is trusted entry by entry.
/// </summary>
internal readonly struct ManifestBlockEntry
{
    public const int Size = 32;
    public const int HashOffset = 0;
    public const int FineChecksumOffset = 16;
    public const int FlagsOffset = 24;
    public const int ChecksumOffset = 28;

    public const uint ZeroFlag = 1;
    public const uint UnknownFlag = 2;

    public ManifestBlockEntry(UInt128 hash, ulong fineChecksum, uint flags)
    {
        Hash = hash;
        FineChecksum = fineChecksum;
        Flags = flags;
    }

    /// <summary>The entry of a block that is not hashed yet.</summary>
    public static ManifestBlockEntry Unknown => new(UInt128.Zero, 0, UnknownFlag);

    public UInt128 Hash { get; }

    public ulong FineChecksum { get; }

    public uint Flags { get; }

    public bool IsZero => (Flags & ZeroFlag) != 0;

    public bool IsUnknown => (Flags & UnknownFlag) != 0;

    /// <summary>Reads an entry without throwing; false when it fails its checksum or its fields disagree.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, long index, out ManifestBlockEntry entry)
    {
        entry = default;
        if (source.Length < Size || Problem(source, index) is not null)
        {
            return false;
        }

        entry = Parse(source);
        return true;
    }

    /// <summary>Reads and validates an entry.</summary>
    /// <exception cref="InvalidManifestException">The entry fails its checksum or its fields disagree.</exception>
    public static ManifestBlockEntry Read(ReadOnlySpan<byte> source, long index, string? filePath, long fileOffset)
    {
        if (Problem(source, index) is { } problem)
        {
            throw new InvalidManifestException(filePath, fileOffset + problem.Offset, $"manifest block table[{index}].{problem.Field}", problem.Detail);
        }

        return Parse(source);
    }

    public void WriteTo(Span<byte> destination, long index)
    {
        Span<byte> entry = destination[..Size];
        BinaryPrimitives.WriteUInt128LittleEndian(entry, Hash);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[FineChecksumOffset..], FineChecksum);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[ChecksumOffset..], EntryChecksum(entry, index));
    }

    private static ManifestBlockEntry Parse(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt128LittleEndian(source),
        BinaryPrimitives.ReadUInt64LittleEndian(source[FineChecksumOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[FlagsOffset..]));

    private static (int Offset, string Field, string Detail)? Problem(ReadOnlySpan<byte> source, long index)
    {
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(source[ChecksumOffset..]);
        uint actual = EntryChecksum(source, index);
        if (stored != actual)
        {
            return (ChecksumOffset, "Checksum", $"stored 0x{stored:X8}, computed 0x{actual:X8}: the entry is corrupt");
        }

        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(source[FlagsOffset..]);
        UInt128 hash = BinaryPrimitives.ReadUInt128LittleEndian(source);
        return flags switch
        {
            > (ZeroFlag | UnknownFlag) => (FlagsOffset, "Flags", $"unknown flags 0x{flags:X8}"),
            ZeroFlag | UnknownFlag => (FlagsOffset, "Flags", "a block cannot be both zero and unknown"),
            ZeroFlag or UnknownFlag when hash != UInt128.Zero => (HashOffset, "Hash", "a zero or unknown block must have hash 0"),
            0 when hash == UInt128.Zero => (HashOffset, "Hash", "hash 0 is reserved for zero blocks"),
            _ => null,
        };
    }

    private static uint EntryChecksum(ReadOnlySpan<byte> entry, long index) =>
        (uint)XxHash3.HashToUInt64(entry[..ChecksumOffset], index);
}
