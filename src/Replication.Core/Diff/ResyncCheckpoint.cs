using System.Buffers.Binary;
using System.IO.Hashing;

namespace Replication.Core.Diff;

/// <summary>
/// The 128-byte checkpoint of a resync in its copy phase (little-endian), replaced atomically (temp file, fsync,
/// rename, fsync of the folder):
/// <code>
///   0  Magic "REPLSYNC"        8     48  SourceManifestChecksum  16
///   8  Version (1)             2     64  TargetManifestChecksum  16
///  10  Size (128)              2     80  Cursor                   8
///  12  Phase (1 copy, 2 final) 4     88  DataBytesSent            8
///  16  VirtualSize             8     96  BytesWritten             8
///  24  CoarseBlockSize         4    104  Reserved, zero          16
///  28  FineBlockSize           4    120  Checksum (XxHash3-64 of 0..120) 8
///  32  SourceStamp            16
/// </code>
/// Every differing range below <see cref="Cursor"/> is copied and flushed to the target. The two manifest checksums
/// pin the manifests the diff was computed from, so a resume computes exactly the same ranges.
/// </summary>
internal readonly struct ResyncCheckpoint
{
    public const int Size = 128;
    public const ushort CurrentVersion = 1;
    public const uint CopyingPhase = 1;
    public const uint FinalizingPhase = 2;

    private const int VersionOffset = 8;
    private const int SizeOffset = 10;
    private const int PhaseOffset = 12;
    private const int VirtualSizeOffset = 16;
    private const int CoarseOffset = 24;
    private const int FineOffset = 28;
    private const int SourceStampOffset = 32;
    private const int SourceManifestOffset = 48;
    private const int TargetManifestOffset = 64;
    private const int CursorOffset = 80;
    private const int DataBytesSentOffset = 88;
    private const int BytesWrittenOffset = 96;
    private const int ReservedOffset = 104;
    private const int ChecksumOffset = 120;

    public ResyncCheckpoint(
        uint phase,
        long virtualSize,
        int coarseBlockSize,
        int fineBlockSize,
        DiskStamp sourceStamp,
        UInt128 sourceManifestChecksum,
        UInt128 targetManifestChecksum,
        long cursor,
        long dataBytesSent,
        long bytesWritten)
    {
        Phase = phase;
        VirtualSize = virtualSize;
        CoarseBlockSize = coarseBlockSize;
        FineBlockSize = fineBlockSize;
        SourceStamp = sourceStamp;
        SourceManifestChecksum = sourceManifestChecksum;
        TargetManifestChecksum = targetManifestChecksum;
        Cursor = cursor;
        DataBytesSent = dataBytesSent;
        BytesWritten = bytesWritten;
    }

    public static ReadOnlySpan<byte> Magic => "REPLSYNC"u8;

    public uint Phase { get; }

    public long VirtualSize { get; }

    public int CoarseBlockSize { get; }

    public int FineBlockSize { get; }

    public DiskStamp SourceStamp { get; }

    public UInt128 SourceManifestChecksum { get; }

    public UInt128 TargetManifestChecksum { get; }

    /// <summary>Every differing range below this byte is copied and flushed.</summary>
    public long Cursor { get; }

    /// <summary>Data bytes sent by every run of this resync so far.</summary>
    public long DataBytesSent { get; }

    /// <summary>Bytes written to the target by every run of this resync so far.</summary>
    public long BytesWritten { get; }

    public ResyncCheckpoint With(uint phase, long cursor, long dataBytesSent, long bytesWritten) =>
        new(phase, VirtualSize, CoarseBlockSize, FineBlockSize, SourceStamp, SourceManifestChecksum, TargetManifestChecksum, cursor, dataBytesSent, bytesWritten);

    /// <summary>Reads and validates a checkpoint: magic, version, size, checksum, then every field.</summary>
    /// <exception cref="InvalidManifestException">Any of them is wrong; names the field and its offset.</exception>
    public static ResyncCheckpoint Read(ReadOnlySpan<byte> source, string? filePath)
    {
        if (source.Length != Size)
        {
            throw new InvalidManifestException(filePath, Math.Min(source.Length, Size), "resync checkpoint length", $"{source.Length} bytes; a checkpoint is {Size} bytes");
        }

        if (!source[..8].SequenceEqual(Magic))
        {
            throw new InvalidManifestException(filePath, 0, "resync checkpoint.Magic", "not a resync checkpoint (the file does not start with \"REPLSYNC\")");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]);
        if (version != CurrentVersion)
        {
            throw new InvalidManifestException(filePath, VersionOffset, "resync checkpoint.Version", $"version {version} is not supported (this library reads version {CurrentVersion})");
        }

        ushort size = BinaryPrimitives.ReadUInt16LittleEndian(source[SizeOffset..]);
        if (size != Size)
        {
            throw new InvalidManifestException(filePath, SizeOffset, "resync checkpoint.Size", $"{size} bytes; version {CurrentVersion} checkpoints are {Size} bytes");
        }

        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(source[ChecksumOffset..]);
        ulong actual = XxHash3.HashToUInt64(source[..ChecksumOffset]);
        if (stored != actual)
        {
            throw new InvalidManifestException(filePath, ChecksumOffset, "resync checkpoint.Checksum", $"stored 0x{stored:X16}, computed 0x{actual:X16}: the checkpoint is corrupt");
        }

        uint phase = BinaryPrimitives.ReadUInt32LittleEndian(source[PhaseOffset..]);
        if (phase is not (CopyingPhase or FinalizingPhase))
        {
            throw new InvalidManifestException(filePath, PhaseOffset, "resync checkpoint.Phase", $"unknown phase {phase}");
        }

        long virtualSize = BinaryPrimitives.ReadInt64LittleEndian(source[VirtualSizeOffset..]);
        if (virtualSize <= 0 || virtualSize % 512 != 0 || virtualSize > ManifestHeader.MaxVirtualSize)
        {
            throw new InvalidManifestException(filePath, VirtualSizeOffset, "resync checkpoint.VirtualSize", $"{virtualSize} is not a positive multiple of 512");
        }

        int coarse = BinaryPrimitives.ReadInt32LittleEndian(source[CoarseOffset..]);
        int fine = BinaryPrimitives.ReadInt32LittleEndian(source[FineOffset..]);
        if (!ManifestOptions.IsValidSize(coarse) || coarse > ManifestOptions.MaxCoarseBlockSize)
        {
            throw new InvalidManifestException(filePath, CoarseOffset, "resync checkpoint.CoarseBlockSize", $"{coarse} is not a valid block size");
        }

        if (!ManifestOptions.IsValidSize(fine) || fine > coarse)
        {
            throw new InvalidManifestException(filePath, FineOffset, "resync checkpoint.FineBlockSize", $"{fine} is not a valid fine block size for {coarse}-byte blocks");
        }

        long cursor = BinaryPrimitives.ReadInt64LittleEndian(source[CursorOffset..]);
        if (cursor < 0 || cursor > virtualSize)
        {
            throw new InvalidManifestException(filePath, CursorOffset, "resync checkpoint.Cursor", $"{cursor} is outside the disk of {virtualSize} bytes");
        }

        long sent = BinaryPrimitives.ReadInt64LittleEndian(source[DataBytesSentOffset..]);
        long written = BinaryPrimitives.ReadInt64LittleEndian(source[BytesWrittenOffset..]);
        if (sent < 0 || written < 0)
        {
            throw new InvalidManifestException(filePath, sent < 0 ? DataBytesSentOffset : BytesWrittenOffset, "resync checkpoint counters", "a byte counter is negative");
        }

        if (source[ReservedOffset..ChecksumOffset].IndexOfAnyExcept((byte)0) >= 0)
        {
            throw new InvalidManifestException(filePath, ReservedOffset, "resync checkpoint.Reserved", "reserved bytes are not zero");
        }

        return new ResyncCheckpoint(
            phase,
            virtualSize,
            coarse,
            fine,
            new DiskStamp(ManifestHeader.ReadUInt128(source[SourceStampOffset..])),
            ManifestHeader.ReadUInt128(source[SourceManifestOffset..]),
            ManifestHeader.ReadUInt128(source[TargetManifestOffset..]),
            cursor,
            sent,
            written);
    }

    public void WriteTo(Span<byte> destination)
    {
        Span<byte> bytes = destination[..Size];
        bytes.Clear();
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[VersionOffset..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[SizeOffset..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[PhaseOffset..], Phase);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[VirtualSizeOffset..], VirtualSize);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[CoarseOffset..], CoarseBlockSize);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[FineOffset..], FineBlockSize);
        ManifestHeader.WriteUInt128(bytes[SourceStampOffset..], SourceStamp.Value);
        ManifestHeader.WriteUInt128(bytes[SourceManifestOffset..], SourceManifestChecksum);
        ManifestHeader.WriteUInt128(bytes[TargetManifestOffset..], TargetManifestChecksum);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[CursorOffset..], Cursor);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[DataBytesSentOffset..], DataBytesSent);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[BytesWrittenOffset..], BytesWritten);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[ChecksumOffset..], XxHash3.HashToUInt64(bytes[..ChecksumOffset]));
    }
}
