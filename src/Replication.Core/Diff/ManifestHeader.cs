using System.Buffers.Binary;
using System.IO.Hashing;

namespace Replication.Core.Diff;

/// <summary>
/// The 128-byte header at offset 0 of a block manifest file (little-endian):
/// <code>
///   0  Magic "REPLMFST"      8      48  Stamp (disk fingerprint)    16
///   8  Version (2)           2      64  TableChecksum (XxHash128)   16
///  10  HeaderSize (128)      2      80  Reserved, zero              40
///  12  Flags (bit 0 partial) 4     120  Checksum (XxHash3-64 of 0..120) 8
///  16  VirtualSize           8
///  24  CoarseBlockSize       4
///  28  FineBlockSize         4
///  32  CoarseBlockCount      8
///  40  FineBlockCount        8
/// </code>
/// The header checksum covers the header; the table checksum covers the block table; each block entry carries the
/// checksum of its run of fine hashes. So every byte of the file is covered.
/// </summary>
internal readonly struct ManifestHeader
{
    public const int Size = 128;
    /// <summary>
    /// The format version: 2 since fine hashes are XxHash128 (16 bytes) and a block's hash is the XxHash128 of its run
    /// of fine hashes. Version 1 (64-bit fine hashes, coarse hashes over the bytes) is rejected, not converted.
    /// </summary>
    public const ushort CurrentVersion = 2;

    /// <summary>Bytes of one fine hash in the file (an XxHash128, little-endian).</summary>
    public const int FineHashSize = 16;

    /// <summary>The largest virtual size a manifest describes: 1 PiB.</summary>
    public const long MaxVirtualSize = 1L << 50;

    /// <summary>The most coarse blocks a manifest holds (the block table is kept in memory): 16 Mi.</summary>
    public const long MaxCoarseBlockCount = 1L << 24;

    public const int MagicOffset = 0;
    public const int VersionOffset = 8;
    public const int HeaderSizeOffset = 10;
    public const int FlagsOffset = 12;
    public const int VirtualSizeOffset = 16;
    public const int CoarseBlockSizeOffset = 24;
    public const int FineBlockSizeOffset = 28;
    public const int CoarseBlockCountOffset = 32;
    public const int FineBlockCountOffset = 40;
    public const int StampOffset = 48;
    public const int TableChecksumOffset = 64;
    public const int ReservedOffset = 80;
    public const int ChecksumOffset = 120;

    /// <summary>Flag: some blocks are not hashed yet (a build in progress, kept so it can resume).</summary>
    public const uint PartialFlag = 1;

    public ManifestHeader(bool partial, long virtualSize, int coarseBlockSize, int fineBlockSize, DiskStamp stamp, UInt128 tableChecksum)
    {
        IsPartial = partial;
        VirtualSize = virtualSize;
        CoarseBlockSize = coarseBlockSize;
        FineBlockSize = fineBlockSize;
        Stamp = stamp;
        TableChecksum = tableChecksum;
    }

    public static ReadOnlySpan<byte> Magic => "REPLMFST"u8;

    public bool IsPartial { get; }

    public long VirtualSize { get; }

    public int CoarseBlockSize { get; }

    public int FineBlockSize { get; }

    public long CoarseBlockCount => CeilDiv(VirtualSize, CoarseBlockSize);

    public long FineBlockCount => CeilDiv(VirtualSize, FineBlockSize);

    public DiskStamp Stamp { get; }

    public UInt128 TableChecksum { get; }

    /// <summary>Offset of the first block entry.</summary>
    public static long TableOffset => Size;

    /// <summary>Offset of the first fine hash.</summary>
    public long FineTableOffset => Size + (CoarseBlockCount * ManifestBlockEntry.Size);

    /// <summary>The exact length of a file holding this manifest.</summary>
    public long FileLength => FineTableOffset + (FineBlockCount * FineHashSize);

    /// <summary>
    /// Reads and validates a header: magic, version, header size, checksum, then every field that sizes something.
    /// </summary>
    /// <exception cref="InvalidManifestException">Any of them is wrong; names the field and its offset.</exception>
    public static ManifestHeader Read(ReadOnlySpan<byte> source, string? filePath)
    {
        if (source.Length < Size)
        {
            throw new InvalidManifestException(filePath, 0, "manifest header", $"the file is {source.Length} bytes, shorter than the {Size}-byte header (truncated)");
        }

        if (!source[..8].SequenceEqual(Magic))
        {
            throw new InvalidManifestException(filePath, MagicOffset, "manifest header.Magic", "not a block manifest (the file does not start with \"REPLMFST\")");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]);
        if (version != CurrentVersion)
        {
            throw new InvalidManifestException(filePath, VersionOffset, "manifest header.Version", $"version {version} is not supported (this library reads version {CurrentVersion})");
        }

        ushort headerSize = BinaryPrimitives.ReadUInt16LittleEndian(source[HeaderSizeOffset..]);
        if (headerSize != Size)
        {
            throw new InvalidManifestException(filePath, HeaderSizeOffset, "manifest header.HeaderSize", $"{headerSize} bytes; version {CurrentVersion} headers are {Size} bytes");
        }

        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(source[ChecksumOffset..]);
        ulong actual = XxHash3.HashToUInt64(source[..ChecksumOffset]);
        if (stored != actual)
        {
            throw new InvalidManifestException(filePath, ChecksumOffset, "manifest header.Checksum", $"stored 0x{stored:X16}, computed 0x{actual:X16}: the header is corrupt");
        }

        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(source[FlagsOffset..]);
        if ((flags & ~PartialFlag) != 0)
        {
            throw new InvalidManifestException(filePath, FlagsOffset, "manifest header.Flags", $"unknown flags 0x{flags:X8}");
        }

        if (source[ReservedOffset..ChecksumOffset].IndexOfAnyExcept((byte)0) >= 0)
        {
            throw new InvalidManifestException(filePath, ReservedOffset, "manifest header.Reserved", "reserved bytes are not zero");
        }

        long virtualSize = BinaryPrimitives.ReadInt64LittleEndian(source[VirtualSizeOffset..]);
        if (virtualSize <= 0 || virtualSize % 512 != 0 || virtualSize > MaxVirtualSize)
        {
            throw new InvalidManifestException(filePath, VirtualSizeOffset, "manifest header.VirtualSize", $"{virtualSize} is not a positive multiple of 512 up to {MaxVirtualSize}");
        }

        int coarse = BinaryPrimitives.ReadInt32LittleEndian(source[CoarseBlockSizeOffset..]);
        if (!ManifestOptions.IsValidSize(coarse) || coarse > ManifestOptions.MaxCoarseBlockSize)
        {
            throw new InvalidManifestException(filePath, CoarseBlockSizeOffset, "manifest header.CoarseBlockSize", $"{coarse} is not a power of two from {ManifestOptions.MinBlockSize} to {ManifestOptions.MaxCoarseBlockSize}");
        }

        int fine = BinaryPrimitives.ReadInt32LittleEndian(source[FineBlockSizeOffset..]);
        if (!ManifestOptions.IsValidSize(fine) || fine > coarse)
        {
            throw new InvalidManifestException(filePath, FineBlockSizeOffset, "manifest header.FineBlockSize", $"{fine} is not a power of two from {ManifestOptions.MinBlockSize} to the block size {coarse}");
        }

        long coarseCount = BinaryPrimitives.ReadInt64LittleEndian(source[CoarseBlockCountOffset..]);
        long expectedCoarse = CeilDiv(virtualSize, coarse);
        if (coarseCount != expectedCoarse)
        {
            throw new InvalidManifestException(filePath, CoarseBlockCountOffset, "manifest header.CoarseBlockCount", $"{coarseCount}, but {virtualSize} bytes in {coarse}-byte blocks make {expectedCoarse}");
        }

        if (coarseCount > MaxCoarseBlockCount)
        {
            throw new InvalidManifestException(filePath, CoarseBlockCountOffset, "manifest header.CoarseBlockCount", $"{coarseCount} blocks exceed the limit of {MaxCoarseBlockCount}; use a larger block size");
        }

        long fineCount = BinaryPrimitives.ReadInt64LittleEndian(source[FineBlockCountOffset..]);
        long expectedFine = CeilDiv(virtualSize, fine);
        if (fineCount != expectedFine)
        {
            throw new InvalidManifestException(filePath, FineBlockCountOffset, "manifest header.FineBlockCount", $"{fineCount}, but {virtualSize} bytes in {fine}-byte blocks make {expectedFine}");
        }

        var stamp = new DiskStamp(ReadUInt128(source[StampOffset..]));
        UInt128 tableChecksum = ReadUInt128(source[TableChecksumOffset..]);
        return new ManifestHeader((flags & PartialFlag) != 0, virtualSize, coarse, fine, stamp, tableChecksum);
    }

    /// <summary>Writes the header, checksum included, into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> header = destination[..Size];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[VersionOffset..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[HeaderSizeOffset..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(header[FlagsOffset..], IsPartial ? PartialFlag : 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[VirtualSizeOffset..], VirtualSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[CoarseBlockSizeOffset..], CoarseBlockSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[FineBlockSizeOffset..], FineBlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(header[CoarseBlockCountOffset..], CoarseBlockCount);
        BinaryPrimitives.WriteInt64LittleEndian(header[FineBlockCountOffset..], FineBlockCount);
        WriteUInt128(header[StampOffset..], Stamp.Value);
        WriteUInt128(header[TableChecksumOffset..], TableChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(header[ChecksumOffset..], XxHash3.HashToUInt64(header[..ChecksumOffset]));
    }

    internal static UInt128 ReadUInt128(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(source[8..]), BinaryPrimitives.ReadUInt64LittleEndian(source));

    internal static void WriteUInt128(Span<byte> destination, UInt128 value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)value);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)(value >> 64));
    }

    internal static long CeilDiv(long value, long divisor) => (value + divisor - 1) / divisor;
}
