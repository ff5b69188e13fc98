using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>
/// The 128-byte header at offset 0 of a block manifest file: one durable record (<see cref="RecordFormat"/>, magic
/// "REPLMFST", version 3), little-endian:
/// <code>
///   0  Frame (magic, version, header size, payload length 104)   16
///  16  Flags (bit 0 partial) 4      56  Stamp (disk fingerprint)    16
///  20  CoarseBlockSize       4      72  TableChecksum (XxHash128)   16
///  24  FineBlockSize         4      88  Reserved, zero              32
///  28  Reserved, zero        4     120  Checksum (XxHash3-64 of 0..120) 8
///  32  VirtualSize           8
///  40  CoarseBlockCount      8
///  48  FineBlockCount        8
/// </code>
/// The header checksum covers the header; the table checksum covers the block table; each block entry carries the
/// checksum of its run of fine hashes. So every byte of the file is covered.
/// </summary>
internal readonly struct ManifestHeader(bool partial, long virtualSize, int coarseBlockSize, int fineBlockSize, DiskStamp stamp, UInt128 tableChecksum)
{
    public const int Size = 128;

    /// <summary>
    /// The format version: 3 since the header is a library record; 2 had the same fields in a frame of its own; 1 had
    /// 64-bit fine hashes. Older versions are rejected, not converted.
    /// </summary>
    public const ushort CurrentVersion = 3;

    /// <summary>Bytes of one fine hash in the file (an XxHash128, little-endian).</summary>
    public const int FineHashSize = 16;

    /// <summary>The largest virtual size a manifest describes: 1 PiB.</summary>
    public const long MaxVirtualSize = 1L << 50;

    /// <summary>The most coarse blocks a manifest holds (the block table is kept in memory): 16 Mi.</summary>
    public const long MaxCoarseBlockCount = 1L << 24;

    public const int VersionOffset = RecordFormat.VersionOffset;
    public const int HeaderSizeOffset = 10;
    public const int FlagsOffset = 16;
    public const int CoarseBlockSizeOffset = 20;
    public const int FineBlockSizeOffset = 24;
    public const int VirtualSizeOffset = 32;
    public const int CoarseBlockCountOffset = 40;
    public const int FineBlockCountOffset = 48;
    public const int StampOffset = 56;
    public const int TableChecksumOffset = 72;
    public const int ReservedOffset = 88;
    public const int ChecksumOffset = 120;

    /// <summary>Flag: some blocks are not hashed yet (a build in progress, kept so it can resume).</summary>
    public const uint PartialFlag = 1;

    private const int PayloadSize = Size - RecordFormat.HeaderSize - RecordFormat.ChecksumSize;

    /// <summary>The header's record format; its errors are <see cref="InvalidManifestException"/>s.</summary>
    internal static readonly RecordFormat Format = new(
        "manifest header", "REPLMFST"u8, CurrentVersion, PayloadSize, PayloadSize, (path, offset, field, detail) => new InvalidManifestException(path, offset, field, detail));

    public bool IsPartial { get; } = partial;

    public long VirtualSize { get; } = virtualSize;

    public int CoarseBlockSize { get; } = coarseBlockSize;

    public int FineBlockSize { get; } = fineBlockSize;

    public long CoarseBlockCount => CeilDiv(VirtualSize, CoarseBlockSize);

    public long FineBlockCount => CeilDiv(VirtualSize, FineBlockSize);

    public DiskStamp Stamp { get; } = stamp;

    public UInt128 TableChecksum { get; } = tableChecksum;

    /// <summary>Offset of the first block entry.</summary>
    public static long TableOffset => Size;

    /// <summary>Offset of the first fine hash.</summary>
    public long FineTableOffset => Size + (CoarseBlockCount * ManifestBlockEntry.Size);

    /// <summary>The exact length of a file holding this manifest.</summary>
    public long FileLength => FineTableOffset + (FineBlockCount * FineHashSize);

    /// <summary>
    /// Reads and validates a header: its record frame (magic, version, header size, length, checksum), then every field
    /// that sizes something.
    /// </summary>
    /// <exception cref="InvalidManifestException">Any of them is wrong; names the field and its offset.</exception>
    public static ManifestHeader Read(ReadOnlySpan<byte> source, string? filePath)
    {
        if (source.Length < Size)
        {
            throw new InvalidManifestException(filePath, 0, "manifest header", $"the file is {source.Length} bytes, shorter than the {Size}-byte header (truncated)");
        }

        RecordReader r = Format.Decode(source[..Size], filePath);
        uint flags = r.UInt32("Flags");
        if ((flags & ~PartialFlag) != 0)
        {
            throw r.Error("Flags", $"unknown flags 0x{flags:X8}");
        }

        int coarse = r.Int32("CoarseBlockSize");
        if (!ManifestOptions.IsValidSize(coarse) || coarse > ManifestOptions.MaxCoarseBlockSize)
        {
            throw r.Error("CoarseBlockSize", $"{coarse} is not a power of two from {ManifestOptions.MinBlockSize} to {ManifestOptions.MaxCoarseBlockSize}");
        }

        int fine = r.Int32("FineBlockSize");
        if (!ManifestOptions.IsValidSize(fine) || fine > coarse)
        {
            throw r.Error("FineBlockSize", $"{fine} is not a power of two from {ManifestOptions.MinBlockSize} to the block size {coarse}");
        }

        r.Reserved(4);
        long virtualSize = r.Int64("VirtualSize");
        if (virtualSize <= 0 || virtualSize % 512 != 0 || virtualSize > MaxVirtualSize)
        {
            throw r.Error("VirtualSize", $"{virtualSize} is not a positive multiple of 512 up to {MaxVirtualSize}");
        }

        long coarseCount = r.Int64("CoarseBlockCount");
        long expectedCoarse = CeilDiv(virtualSize, coarse);
        if (coarseCount != expectedCoarse)
        {
            throw r.Error("CoarseBlockCount", $"{coarseCount}, but {virtualSize} bytes in {coarse}-byte blocks make {expectedCoarse}");
        }

        if (coarseCount > MaxCoarseBlockCount)
        {
            throw r.Error("CoarseBlockCount", $"{coarseCount} blocks exceed the limit of {MaxCoarseBlockCount}; use a larger block size");
        }

        long fineCount = r.Int64("FineBlockCount");
        long expectedFine = CeilDiv(virtualSize, fine);
        if (fineCount != expectedFine)
        {
            throw r.Error("FineBlockCount", $"{fineCount}, but {virtualSize} bytes in {fine}-byte blocks make {expectedFine}");
        }

        var stamp = new DiskStamp(r.UInt128("Stamp"));
        UInt128 tableChecksum = r.UInt128("TableChecksum");
        r.Reserved(ChecksumOffset - ReservedOffset);
        return new ManifestHeader((flags & PartialFlag) != 0, virtualSize, coarse, fine, stamp, tableChecksum);
    }

    /// <summary>Writes the header, checksum included, into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> payload = stackalloc byte[PayloadSize];
        var w = new RecordWriter(payload);
        w.UInt32(IsPartial ? PartialFlag : 0);
        w.Int32(CoarseBlockSize);
        w.Int32(FineBlockSize);
        w.Reserved(4);
        w.Int64(VirtualSize);
        w.Int64(CoarseBlockCount);
        w.Int64(FineBlockCount);
        w.UInt128(Stamp.Value);
        w.UInt128(TableChecksum);
        Format.Encode(payload, destination[..Size]);
    }

    internal static long CeilDiv(long value, long divisor) => (value + divisor - 1) / divisor;
}
