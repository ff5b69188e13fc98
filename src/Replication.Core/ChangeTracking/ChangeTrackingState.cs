using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>Where a log of the chain is in its life.</summary>
internal enum TrackedLogStatus : byte
{
    /// <summary>Sealed, hashed and durable; kept until released.</summary>
    Sealed = 1,

    /// <summary>Being sealed by a rotation (or a close) that has not finished; no hash yet.</summary>
    Sealing = 2,

    /// <summary>Receiving writes.</summary>
    Active = 3,
}

/// <summary>One log of the chain as the state file records it.</summary>
internal readonly record struct TrackedLogEntry(
    long Sequence,
    TrackedLogStatus Status,
    Guid UniqueId,
    Guid PreviousUniqueId,
    long Length,
    UInt128 Hash,
    long RecordCount,
    long DataBytes);

/// <summary>
/// The change tracking state kept beside the logs (<c>tracking.state</c>): the chain (sealed logs not released with
/// their XxHash128, the log being sealed, the active log), sequence numbers, the DataWriteGuid last seen, the resync
/// reasons and ranges, and the write-intent regions. Versioned and checksummed; replaced atomically with
/// <see cref="DurableFile"/>, so a crash leaves the old state or the new one.
/// </summary>
/// <remarks>
/// Layout, little-endian: a 128-byte header (offsets below), then <c>LogCount</c> entries of 88 bytes, <c>RangeCount</c>
/// ranges of 16 bytes, <c>ArmedWordCount</c> 64-bit words of the write-intent bitmap, and the XxHash3 (seed 0) of every
/// byte before it. Every count is checked against the file's length before anything is sized by it.
/// </remarks>
internal sealed class ChangeTrackingState
{
    public const string FileName = "tracking.state";
    public const string StructureName = "change tracking state";
    public const uint CurrentVersion = 1;

    public const int MagicOffset = 0;
    public const int VersionOffset = 8;
    public const int FlagsOffset = 12;
    public const int VirtualSizeOffset = 16;
    public const int NextSequenceOffset = 24;
    public const int ChainHeadOffset = 32;
    public const int LastDataWriteGuidOffset = 48;
    public const int ReasonsOffset = 64;
    public const int RegionShiftOffset = 68;
    public const int GenerationOffset = 72;
    public const int LogCountOffset = 80;
    public const int RangeCountOffset = 84;
    public const int ArmedWordCountOffset = 88;
    public const int ReservedOffset = 92;
    public const int ClosedDiskStampOffset = 96;
    public const int HeaderSize = 128;
    public const int LogEntrySize = 88;
    public const int RangeSize = 16;
    public const int TrailerSize = 8;

    /// <summary>Smallest write-intent region: 64 KiB.</summary>
    public const int MinRegionShift = 16;

    /// <summary>Largest write-intent region: 1 TiB.</summary>
    public const int MaxRegionShift = 40;

    /// <summary>More inconsistent ranges than this are recorded as "whole disk".</summary>
    public const int MaxRanges = 4096;

    private const uint FlagClosedCleanly = 1;
    private const uint FlagWholeDisk = 2;
    private const int MaxLogs = 1_000_000;
    private const ResyncReasons StoredReasons =
        ResyncReasons.UncleanShutdown | ResyncReasons.ChainBroken | ResyncReasons.DataWriteGuidChanged |
        ResyncReasons.LogWriteFailed | ResyncReasons.DiskWriteFailed | ResyncReasons.DiskChangedOffline;

    private static ReadOnlySpan<byte> Magic => "RPLCHAIN"u8;

    public long VirtualSize { get; set; }

    /// <summary>The sequence number the next new log gets.</summary>
    public long NextSequence { get; set; } = 1;

    /// <summary>The <c>PreviousUniqueId</c> of the first listed log: the last released log (<see cref="Guid.Empty"/> at the start).</summary>
    public Guid ChainHead { get; set; }

    /// <summary>The disk's DataWriteGuid when this state was written (<see cref="Guid.Empty"/> for formats without one).</summary>
    public Guid LastDataWriteGuid { get; set; }

    /// <summary>True when the tracker was closed cleanly: no active log, nothing in flight.</summary>
    public bool ClosedCleanly { get; set; }

    /// <summary>
    /// The disk file's stamp (<see cref="IO.FileStamp"/>) taken after the tracker closed it cleanly, or zero when none was
    /// taken (open, not closed cleanly, a disk left open for its owner, or written by an older version).
    /// </summary>
    public UInt128 ClosedDiskStamp { get; set; }

    public ResyncReasons Reasons { get; set; }

    public bool WholeDisk { get; set; }

    public long Generation { get; set; }

    public List<DiskExtent> Ranges { get; init; } = [];

    /// <summary>log2 of the write-intent region size.</summary>
    public int RegionShift { get; set; }

    /// <summary>
    /// Write-intent bitmap: a region's bit is set (durably) before the first write into it since the last rotation, so
    /// after a crash the regions that may hold writes not in any sealed log are known.
    /// </summary>
    public ulong[] Armed { get; set; } = [];

    /// <summary>The chain, oldest first: sealed logs, then at most one being sealed, then at most one active.</summary>
    public List<TrackedLogEntry> Logs { get; init; } = [];

    /// <summary>The <c>UniqueId</c> a new log must name as its predecessor.</summary>
    public Guid ChainTail => Logs.Count == 0 ? ChainHead : Logs[^1].UniqueId;

    public static int WordsFor(long virtualSize, int regionShift)
    {
        long regions = ((virtualSize - 1) >> regionShift) + 1;
        return (int)((regions + 63) / 64);
    }

    /// <summary>A copy whose lists can change independently (the bitmap array is shared: it is replaced, never changed in place).</summary>
    public ChangeTrackingState Clone() => new()
    {
        VirtualSize = VirtualSize,
        NextSequence = NextSequence,
        ChainHead = ChainHead,
        LastDataWriteGuid = LastDataWriteGuid,
        ClosedCleanly = ClosedCleanly,
        ClosedDiskStamp = ClosedDiskStamp,
        Reasons = Reasons,
        WholeDisk = WholeDisk,
        Generation = Generation,
        Ranges = [.. Ranges],
        RegionShift = RegionShift,
        Armed = Armed,
        Logs = [.. Logs],
    };

    /// <summary>Encodes the state with its checksum.</summary>
    public byte[] Encode()
    {
        int length = HeaderSize + (Logs.Count * LogEntrySize) + (Ranges.Count * RangeSize) + (Armed.Length * sizeof(ulong)) + TrailerSize;
        byte[] bytes = new byte[length];
        Span<byte> s = bytes;
        Magic.CopyTo(s);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VersionOffset..], CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FlagsOffset..], (ClosedCleanly ? FlagClosedCleanly : 0) | (WholeDisk ? FlagWholeDisk : 0));
        BinaryPrimitives.WriteInt64LittleEndian(s[VirtualSizeOffset..], VirtualSize);
        BinaryPrimitives.WriteInt64LittleEndian(s[NextSequenceOffset..], NextSequence);
        ChainHead.TryWriteBytes(s[ChainHeadOffset..]);
        LastDataWriteGuid.TryWriteBytes(s[LastDataWriteGuidOffset..]);
        BinaryPrimitives.WriteUInt128LittleEndian(s[ClosedDiskStampOffset..], ClosedDiskStamp);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ReasonsOffset..], (uint)Reasons);
        BinaryPrimitives.WriteUInt32LittleEndian(s[RegionShiftOffset..], (uint)RegionShift);
        BinaryPrimitives.WriteInt64LittleEndian(s[GenerationOffset..], Generation);
        BinaryPrimitives.WriteUInt32LittleEndian(s[LogCountOffset..], (uint)Logs.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(s[RangeCountOffset..], (uint)Ranges.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ArmedWordCountOffset..], (uint)Armed.Length);
        int position = HeaderSize;
        foreach (TrackedLogEntry log in Logs)
        {
            Span<byte> e = s.Slice(position, LogEntrySize);
            BinaryPrimitives.WriteInt64LittleEndian(e, log.Sequence);
            e[8] = (byte)log.Status;
            log.UniqueId.TryWriteBytes(e[16..]);
            log.PreviousUniqueId.TryWriteBytes(e[32..]);
            BinaryPrimitives.WriteInt64LittleEndian(e[48..], log.Length);
            BinaryPrimitives.WriteUInt128BigEndian(e[56..], log.Hash);
            BinaryPrimitives.WriteInt64LittleEndian(e[72..], log.RecordCount);
            BinaryPrimitives.WriteInt64LittleEndian(e[80..], log.DataBytes);
            position += LogEntrySize;
        }

        foreach (DiskExtent range in Ranges)
        {
            BinaryPrimitives.WriteInt64LittleEndian(s[position..], range.Offset);
            BinaryPrimitives.WriteInt64LittleEndian(s[(position + 8)..], range.Length);
            position += RangeSize;
        }

        foreach (ulong word in Armed)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[position..], word);
            position += sizeof(ulong);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(s[position..], XxHash3.HashToUInt64(s[..position]));
        return bytes;
    }

    /// <summary>Writes the state durably and atomically (temporary file, fsync, rename, directory fsync).</summary>
    public void Write(string path) => DurableFile.WriteAllBytes(path, Encode());

    /// <summary>Reads and validates a state file.</summary>
    /// <exception cref="InvalidLogFormatException">The file is corrupt, truncated, of another version, or inconsistent.</exception>
    public static ChangeTrackingState Read(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > HeaderSize + ((long)MaxLogs * LogEntrySize) + (MaxRanges * RangeSize) + (1L << 24))
        {
            throw Error(path, 0, "length", string.Create(CultureInfo.InvariantCulture, $"{length} bytes is far larger than any state this library writes"));
        }

        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses and validates: magic, version, length, checksum, then every field and count.</summary>
    /// <exception cref="InvalidLogFormatException">The state is invalid.</exception>
    public static ChangeTrackingState Decode(ReadOnlySpan<byte> s, string? path)
    {
        if (s.Length < HeaderSize + TrailerSize)
        {
            throw Error(path, 0, "length", string.Create(CultureInfo.InvariantCulture, $"{s.Length} bytes is shorter than the {HeaderSize + TrailerSize}-byte minimum"));
        }

        if (!s[..Magic.Length].SequenceEqual(Magic))
        {
            throw Error(path, MagicOffset, "Magic", "not a change tracking state file");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(s[VersionOffset..]);
        if (version != CurrentVersion)
        {
            throw Error(path, VersionOffset, "Version", string.Create(CultureInfo.InvariantCulture, $"version {version} is not supported (expected {CurrentVersion})"));
        }

        int body = s.Length - TrailerSize;
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(s[body..]);
        ulong computed = XxHash3.HashToUInt64(s[..body]);
        if (stored != computed)
        {
            throw Error(path, body, "Checksum", string.Create(CultureInfo.InvariantCulture, $"the XxHash3 of the state does not match (stored 0x{stored:X16}, computed 0x{computed:X16})"));
        }

        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(s[FlagsOffset..]);
        if ((flags & ~(FlagClosedCleanly | FlagWholeDisk)) != 0)
        {
            throw Error(path, FlagsOffset, "Flags", string.Create(CultureInfo.InvariantCulture, $"unknown flags 0x{flags:X}"));
        }

        if (s.Slice(ReservedOffset, ClosedDiskStampOffset - ReservedOffset).ContainsAnyExcept((byte)0)
            || s[(ClosedDiskStampOffset + 16)..HeaderSize].ContainsAnyExcept((byte)0))
        {
            throw Error(path, ReservedOffset, "Reserved", "reserved bytes must be 0");
        }

        long virtualSize = BinaryPrimitives.ReadInt64LittleEndian(s[VirtualSizeOffset..]);
        if (virtualSize <= 0 || virtualSize % 512 != 0)
        {
            throw Error(path, VirtualSizeOffset, "VirtualSize", string.Create(CultureInfo.InvariantCulture, $"{virtualSize} is not a positive multiple of 512"));
        }

        long nextSequence = BinaryPrimitives.ReadInt64LittleEndian(s[NextSequenceOffset..]);
        if (nextSequence < 1)
        {
            throw Error(path, NextSequenceOffset, "NextSequence", string.Create(CultureInfo.InvariantCulture, $"{nextSequence} is not positive"));
        }

        uint reasons = BinaryPrimitives.ReadUInt32LittleEndian(s[ReasonsOffset..]);
        if ((reasons & ~(uint)StoredReasons) != 0)
        {
            throw Error(path, ReasonsOffset, "Reasons", string.Create(CultureInfo.InvariantCulture, $"unknown reasons 0x{reasons:X}"));
        }

        uint shift = BinaryPrimitives.ReadUInt32LittleEndian(s[RegionShiftOffset..]);
        if (shift < MinRegionShift || shift > MaxRegionShift)
        {
            throw Error(path, RegionShiftOffset, "RegionShift", string.Create(CultureInfo.InvariantCulture, $"{shift} is outside {MinRegionShift} to {MaxRegionShift}"));
        }

        long generation = BinaryPrimitives.ReadInt64LittleEndian(s[GenerationOffset..]);
        if (generation < 0)
        {
            throw Error(path, GenerationOffset, "Generation", "negative");
        }

        uint logCount = BinaryPrimitives.ReadUInt32LittleEndian(s[LogCountOffset..]);
        uint rangeCount = BinaryPrimitives.ReadUInt32LittleEndian(s[RangeCountOffset..]);
        uint armedWords = BinaryPrimitives.ReadUInt32LittleEndian(s[ArmedWordCountOffset..]);
        int expectedWords = WordsFor(virtualSize, (int)shift);
        if (armedWords != expectedWords)
        {
            throw Error(path, ArmedWordCountOffset, "ArmedWordCount", string.Create(CultureInfo.InvariantCulture, $"{armedWords} words, but a {virtualSize}-byte disk in 2^{shift}-byte regions needs {expectedWords}"));
        }

        if (logCount > MaxLogs || rangeCount > MaxRanges ||
            HeaderSize + ((long)logCount * LogEntrySize) + ((long)rangeCount * RangeSize) + ((long)armedWords * sizeof(ulong)) + TrailerSize != s.Length)
        {
            throw Error(path, LogCountOffset, "LogCount", string.Create(CultureInfo.InvariantCulture, $"{logCount} logs, {rangeCount} ranges and {armedWords} bitmap words do not fill the {s.Length}-byte file exactly"));
        }

        var state = new ChangeTrackingState
        {
            VirtualSize = virtualSize,
            NextSequence = nextSequence,
            ChainHead = new Guid(s.Slice(ChainHeadOffset, 16)),
            LastDataWriteGuid = new Guid(s.Slice(LastDataWriteGuidOffset, 16)),
            ClosedCleanly = (flags & FlagClosedCleanly) != 0,
            ClosedDiskStamp = BinaryPrimitives.ReadUInt128LittleEndian(s[ClosedDiskStampOffset..]),
            WholeDisk = (flags & FlagWholeDisk) != 0,
            Reasons = (ResyncReasons)reasons,
            Generation = generation,
            RegionShift = (int)shift,
            Logs = new List<TrackedLogEntry>((int)logCount),
            Ranges = new List<DiskExtent>((int)rangeCount),
            Armed = new ulong[armedWords],
        };

        int position = HeaderSize;
        Guid previous = state.ChainHead;
        long lastSequence = 0;
        TrackedLogStatus lastStatus = TrackedLogStatus.Sealed;
        for (int i = 0; i < logCount; i++, position += LogEntrySize)
        {
            ReadOnlySpan<byte> e = s.Slice(position, LogEntrySize);
            var entry = new TrackedLogEntry(
                BinaryPrimitives.ReadInt64LittleEndian(e),
                (TrackedLogStatus)e[8],
                new Guid(e.Slice(16, 16)),
                new Guid(e.Slice(32, 16)),
                BinaryPrimitives.ReadInt64LittleEndian(e[48..]),
                BinaryPrimitives.ReadUInt128BigEndian(e[56..]),
                BinaryPrimitives.ReadInt64LittleEndian(e[72..]),
                BinaryPrimitives.ReadInt64LittleEndian(e[80..]));
            string at = string.Create(CultureInfo.InvariantCulture, $"log entry {i}");
            if (entry.Sequence <= lastSequence || entry.Sequence >= nextSequence)
            {
                throw Error(path, position, "Sequence", string.Create(CultureInfo.InvariantCulture, $"{at}: {entry.Sequence} does not increase or is not below NextSequence {nextSequence}"));
            }

            if (entry.Status is not (TrackedLogStatus.Sealed or TrackedLogStatus.Sealing or TrackedLogStatus.Active) ||
                entry.Status < lastStatus || (entry.Status == lastStatus && entry.Status != TrackedLogStatus.Sealed) ||
                e.Slice(9, 7).ContainsAnyExcept((byte)0))
            {
                throw Error(path, position + 8, "Status", string.Create(CultureInfo.InvariantCulture, $"{at}: status {e[8]} is invalid or out of order (sealed logs, then at most one being sealed, then at most one active)"));
            }

            if (entry.UniqueId == Guid.Empty || entry.PreviousUniqueId != previous)
            {
                throw Error(path, position + 16, "UniqueId", string.Create(CultureInfo.InvariantCulture, $"{at}: {entry.UniqueId:D} after {entry.PreviousUniqueId:D} does not continue the chain at {previous:D}"));
            }

            if (entry.Length < 0 || entry.RecordCount < 0 || entry.DataBytes < 0 ||
                (entry.Status == TrackedLogStatus.Sealed && entry.Length < 4096 + 512))
            {
                throw Error(path, position + 48, "Length", string.Create(CultureInfo.InvariantCulture, $"{at}: length {entry.Length}, {entry.RecordCount} records or {entry.DataBytes} data bytes is impossible"));
            }

            state.Logs.Add(entry);
            previous = entry.UniqueId;
            lastSequence = entry.Sequence;
            lastStatus = entry.Status;
        }

        long end = 0;
        for (int i = 0; i < rangeCount; i++, position += RangeSize)
        {
            long offset = BinaryPrimitives.ReadInt64LittleEndian(s[position..]);
            long rangeLength = BinaryPrimitives.ReadInt64LittleEndian(s[(position + 8)..]);
            if (offset < end || rangeLength <= 0 || offset > virtualSize - rangeLength || (i > 0 && offset == end))
            {
                throw Error(path, position, "Range", string.Create(CultureInfo.InvariantCulture, $"range {i} [{offset}, +{rangeLength}) is not ascending, merged and inside the disk"));
            }

            state.Ranges.Add(new DiskExtent(offset, rangeLength));
            end = offset + rangeLength;
        }

        for (int i = 0; i < armedWords; i++, position += sizeof(ulong))
        {
            state.Armed[i] = BinaryPrimitives.ReadUInt64LittleEndian(s[position..]);
        }

        long regions = ((virtualSize - 1) >> (int)shift) + 1;
        if (regions % 64 != 0 && (state.Armed[^1] >> (int)(regions % 64)) != 0)
        {
            throw Error(path, position - sizeof(ulong), "Armed", "bits are set for regions beyond the end of the disk");
        }

        return state;
    }

    /// <summary>Unions <paramref name="added"/> into the recorded ranges; beyond <see cref="MaxRanges"/> the whole disk is recorded.</summary>
    public void AddRanges(IEnumerable<DiskExtent> added)
    {
        if (WholeDisk)
        {
            return;
        }

        List<DiskExtent> merged = Merge(Ranges.Concat(added));
        Ranges.Clear();
        if (merged.Count > MaxRanges)
        {
            WholeDisk = true;
            return;
        }

        Ranges.AddRange(merged);
    }

    /// <summary>Sorts and merges overlapping or touching ranges; drops empty ones.</summary>
    public static List<DiskExtent> Merge(IEnumerable<DiskExtent> ranges)
    {
        var sorted = ranges.Where(r => r.Length > 0).OrderBy(r => r.Offset).ToList();
        var merged = new List<DiskExtent>(sorted.Count);
        foreach (DiskExtent range in sorted)
        {
            if (merged.Count > 0 && range.Offset <= merged[^1].End)
            {
                DiskExtent last = merged[^1];
                merged[^1] = new DiskExtent(last.Offset, Math.Max(last.End, range.End) - last.Offset);
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }

    /// <summary>The ranges of the regions whose bits are set, merged and clipped to the disk.</summary>
    public static List<DiskExtent> ArmedRanges(ulong[] armed, int regionShift, long virtualSize)
    {
        var ranges = new List<DiskExtent>();
        for (int w = 0; w < armed.Length; w++)
        {
            ulong word = armed[w];
            while (word != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                word &= word - 1;
                long start = ((long)((w * 64) + bit)) << regionShift;
                long end = Math.Min(virtualSize, start + (1L << regionShift));
                ranges.Add(new DiskExtent(start, end - start));
            }
        }

        return Merge(ranges);
    }

    private static InvalidLogFormatException Error(string? path, long offset, string field, string detail) =>
        new(path, offset, StructureName, field, detail);
}
