using System.Globalization;
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
/// reasons and ranges, and the write-intent regions. One durable record (<see cref="RecordFormat"/>): versioned,
/// checksummed, and replaced atomically, so a crash leaves the old state or the new one.
/// </summary>
/// <remarks>
/// Payload, little-endian, at these file offsets: the fields below up to 128, then <c>LogCount</c> entries of 88 bytes,
/// <c>RangeCount</c> ranges of 16 bytes and <c>ArmedWordCount</c> 64-bit words of the write-intent bitmap; the record's
/// XxHash3 follows. Every count is checked against the record's length before anything is sized by it.
/// </remarks>
internal sealed class ChangeTrackingState
{
    public const string FileName = "tracking.state";
    public const string StructureName = "change tracking state";

    public const int VersionOffset = RecordFormat.VersionOffset;
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
    public const int FlagsOffset = 92;
    public const int ClosedDiskStampOffset = 96;
    public const int ReservedOffset = 112;
    public const int HeaderSize = 128;
    public const int LogEntrySize = 88;
    public const int RangeSize = 16;
    public const int TrailerSize = RecordFormat.ChecksumSize;

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

    /// <summary>The state's record format: version 2 (version 1 had a format of its own).</summary>
    internal static readonly RecordFormat Format = new(
        StructureName, "RPLCHAIN"u8, version: 2, maxPayloadLength: HeaderSize - RecordFormat.HeaderSize + (MaxLogs * LogEntrySize) + (MaxRanges * RangeSize) + (1 << 24));

    public long VirtualSize { get; set; }

    /// <summary>The sequence number the next new log gets.</summary>
    public long NextSequence { get; set; } = 1;

    /// <summary>The <c>PreviousUniqueId</c> of the first listed log: the last released log (<see cref="Guid.Empty"/> at the start).</summary>
    public Guid ChainHead { get; set; }

    /// <summary>The disk's DataWriteGuid when this state was written (<see cref="Guid.Empty"/> for formats without one).</summary>
    public Guid LastDataWriteGuid { get; set; }

    /// <summary>True when the tracker was closed cleanly: no active log, nothing in flight.</summary>
    public bool ClosedCleanly { get; set; }

    public ResyncReasons Reasons { get; set; }

    public bool WholeDisk { get; set; }

    /// <summary>
    /// The disk file's stamp (<see cref="IO.FileStamp"/>) taken after the tracker closed it cleanly, or zero when none was
    /// taken (open, not closed cleanly, a disk left open for its owner, or written by an older version). A different stamp
    /// at the next open means something wrote the disk while nothing tracked it.
    /// </summary>
    public UInt128 ClosedDiskStamp { get; set; }

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
        Reasons = Reasons,
        WholeDisk = WholeDisk,
        ClosedDiskStamp = ClosedDiskStamp,
        Generation = Generation,
        Ranges = [.. Ranges],
        RegionShift = RegionShift,
        Armed = Armed,
        Logs = [.. Logs],
    };

    /// <summary>Encodes the state as one record.</summary>
    public byte[] Encode()
    {
        int payload = HeaderSize - RecordFormat.HeaderSize + (Logs.Count * LogEntrySize) + (Ranges.Count * RangeSize) + (Armed.Length * sizeof(ulong));
        return Format.Encode(payload, (ref RecordWriter w) =>
        {
            w.Int64(VirtualSize);
            w.Int64(NextSequence);
            w.Guid(ChainHead);
            w.Guid(LastDataWriteGuid);
            w.UInt32((uint)Reasons);
            w.UInt32((uint)RegionShift);
            w.Int64(Generation);
            w.UInt32((uint)Logs.Count);
            w.UInt32((uint)Ranges.Count);
            w.UInt32((uint)Armed.Length);
            w.UInt32((ClosedCleanly ? FlagClosedCleanly : 0) | (WholeDisk ? FlagWholeDisk : 0));
            w.UInt128(ClosedDiskStamp);
            w.Reserved(HeaderSize - ReservedOffset);
            foreach (TrackedLogEntry log in Logs)
            {
                w.Int64(log.Sequence);
                w.Byte((byte)log.Status);
                w.Reserved(7);
                w.Guid(log.UniqueId);
                w.Guid(log.PreviousUniqueId);
                w.Int64(log.Length);
                w.UInt128(log.Hash);
                w.Int64(log.RecordCount);
                w.Int64(log.DataBytes);
            }

            foreach (DiskExtent range in Ranges)
            {
                w.Int64(range.Offset);
                w.Int64(range.Length);
            }

            foreach (ulong word in Armed)
            {
                w.UInt64(word);
            }
        });
    }

    /// <summary>Writes the state durably and atomically (temporary file, fsync, rename, directory fsync).</summary>
    public void Write(string path) => DurableFile.WriteAllBytes(path, Encode());

    /// <summary>Reads and validates a state file.</summary>
    /// <exception cref="InvalidRecordException">The file is missing, corrupt, truncated, of another version, or inconsistent.</exception>
    public static ChangeTrackingState Read(string path) =>
        Decode(Format.ReadFile(path) ?? throw Format.Fail(path, 0, "Length", "the file does not exist"), path);

    /// <summary>Parses and validates: the record's frame, then every field and count.</summary>
    /// <exception cref="InvalidRecordException">The state is invalid.</exception>
    public static ChangeTrackingState Decode(ReadOnlySpan<byte> s, string? path)
    {
        RecordReader r = Format.Decode(s, path);
        long virtualSize = r.Int64("VirtualSize");
        if (virtualSize <= 0 || virtualSize % 512 != 0)
        {
            throw r.Error("VirtualSize", string.Create(CultureInfo.InvariantCulture, $"{virtualSize} is not a positive multiple of 512"));
        }

        long nextSequence = r.Int64("NextSequence");
        if (nextSequence < 1)
        {
            throw r.Error("NextSequence", string.Create(CultureInfo.InvariantCulture, $"{nextSequence} is not positive"));
        }

        Guid chainHead = r.Guid("ChainHead");
        Guid lastDataWriteGuid = r.Guid("LastDataWriteGuid");
        uint reasons = r.UInt32("Reasons");
        if ((reasons & ~(uint)StoredReasons) != 0)
        {
            throw r.Error("Reasons", string.Create(CultureInfo.InvariantCulture, $"unknown reasons 0x{reasons:X}"));
        }

        uint shift = r.UInt32("RegionShift");
        if (shift < MinRegionShift || shift > MaxRegionShift)
        {
            throw r.Error("RegionShift", string.Create(CultureInfo.InvariantCulture, $"{shift} is outside {MinRegionShift} to {MaxRegionShift}"));
        }

        long generation = r.Int64("Generation");
        if (generation < 0)
        {
            throw r.Error("Generation", "negative");
        }

        uint logCount = r.UInt32("LogCount");
        uint rangeCount = r.UInt32("RangeCount");
        uint armedWords = r.UInt32("ArmedWordCount");
        int expectedWords = WordsFor(virtualSize, (int)shift);
        if (armedWords != expectedWords)
        {
            throw r.Error("ArmedWordCount", string.Create(CultureInfo.InvariantCulture, $"{armedWords} words, but a {virtualSize}-byte disk in 2^{shift}-byte regions needs {expectedWords}"));
        }

        if (logCount > MaxLogs || rangeCount > MaxRanges ||
            HeaderSize - RecordFormat.HeaderSize + ((long)logCount * LogEntrySize) + ((long)rangeCount * RangeSize) + ((long)armedWords * sizeof(ulong)) != r.Length)
        {
            throw r.ErrorAt(LogCountOffset, "LogCount", string.Create(CultureInfo.InvariantCulture, $"{logCount} logs, {rangeCount} ranges and {armedWords} bitmap words do not fill the {r.Length}-byte payload exactly"));
        }

        uint flags = r.UInt32("Flags");
        if ((flags & ~(FlagClosedCleanly | FlagWholeDisk)) != 0)
        {
            throw r.Error("Flags", string.Create(CultureInfo.InvariantCulture, $"unknown flags 0x{flags:X}"));
        }

        UInt128 closedDiskStamp = r.UInt128("ClosedDiskStamp");
        r.Reserved(HeaderSize - ReservedOffset);
        var state = new ChangeTrackingState
        {
            VirtualSize = virtualSize,
            NextSequence = nextSequence,
            ChainHead = chainHead,
            LastDataWriteGuid = lastDataWriteGuid,
            ClosedCleanly = (flags & FlagClosedCleanly) != 0,
            WholeDisk = (flags & FlagWholeDisk) != 0,
            ClosedDiskStamp = closedDiskStamp,
            Reasons = (ResyncReasons)reasons,
            Generation = generation,
            RegionShift = (int)shift,
            Logs = new List<TrackedLogEntry>((int)logCount),
            Ranges = new List<DiskExtent>((int)rangeCount),
            Armed = new ulong[armedWords],
        };

        Guid previous = state.ChainHead;
        long lastSequence = 0;
        TrackedLogStatus lastStatus = TrackedLogStatus.Sealed;
        for (int i = 0; i < logCount; i++)
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"log entry {i}");
            long sequence = r.Int64("Sequence");
            if (sequence <= lastSequence || sequence >= nextSequence)
            {
                throw r.Error("Sequence", string.Create(CultureInfo.InvariantCulture, $"{at}: {sequence} does not increase or is not below NextSequence {nextSequence}"));
            }

            byte status = r.Byte("Status");
            var typed = (TrackedLogStatus)status;
            if (typed is not (TrackedLogStatus.Sealed or TrackedLogStatus.Sealing or TrackedLogStatus.Active) ||
                typed < lastStatus || (typed == lastStatus && typed != TrackedLogStatus.Sealed))
            {
                throw r.Error("Status", string.Create(CultureInfo.InvariantCulture, $"{at}: status {status} is invalid or out of order (sealed logs, then at most one being sealed, then at most one active)"));
            }

            r.Reserved(7, "Status");
            Guid uniqueId = r.Guid("UniqueId");
            Guid previousUniqueId = r.Guid("PreviousUniqueId");
            if (uniqueId == Guid.Empty || previousUniqueId != previous)
            {
                throw r.Error("UniqueId", string.Create(CultureInfo.InvariantCulture, $"{at}: {uniqueId:D} after {previousUniqueId:D} does not continue the chain at {previous:D}"));
            }

            long length = r.Int64("Length");
            UInt128 hash = r.UInt128("Hash");
            long recordCount = r.Int64("RecordCount");
            long dataBytes = r.Int64("DataBytes");
            if (length < 0 || recordCount < 0 || dataBytes < 0 || (typed == TrackedLogStatus.Sealed && length < 4096 + 512))
            {
                throw r.Error("Length", string.Create(CultureInfo.InvariantCulture, $"{at}: length {length}, {recordCount} records or {dataBytes} data bytes is impossible"));
            }

            state.Logs.Add(new TrackedLogEntry(sequence, typed, uniqueId, previousUniqueId, length, hash, recordCount, dataBytes));
            previous = uniqueId;
            lastSequence = sequence;
            lastStatus = typed;
        }

        long end = 0;
        for (int i = 0; i < rangeCount; i++)
        {
            long offset = r.Int64("Range");
            long rangeLength = r.Int64("Range");
            if (offset < end || rangeLength <= 0 || offset > virtualSize - rangeLength || (i > 0 && offset == end))
            {
                throw r.Error("Range", string.Create(CultureInfo.InvariantCulture, $"range {i} [{offset}, +{rangeLength}) is not ascending, merged and inside the disk"));
            }

            state.Ranges.Add(new DiskExtent(offset, rangeLength));
            end = offset + rangeLength;
        }

        for (int i = 0; i < armedWords; i++)
        {
            state.Armed[i] = r.UInt64("Armed");
        }

        long regions = ((virtualSize - 1) >> (int)shift) + 1;
        if (regions % 64 != 0 && (state.Armed[^1] >> (int)(regions % 64)) != 0)
        {
            throw r.Error("Armed", "bits are set for regions beyond the end of the disk");
        }

        r.End();
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
}
