using System.Buffers.Binary;
using System.IO.Hashing;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>The state file beside the logs: versioned, checksummed, and rejected with a typed error when damaged.</summary>
public sealed class ChangeTrackingStateTests
{
    private static ChangeTrackingState Sample()
    {
        Guid a = Guid.NewGuid();
        Guid b = Guid.NewGuid();
        Guid c = Guid.NewGuid();
        Guid d = Guid.NewGuid();
        var state = new ChangeTrackingState
        {
            VirtualSize = 60L << 20,
            NextSequence = 9,
            ChainHead = a,
            LastDataWriteGuid = Guid.NewGuid(),
            Reasons = ResyncReasons.UncleanShutdown | ResyncReasons.DiskWriteFailed,
            Generation = 3,
            RegionShift = 20,
            Armed = new ulong[1],
        };
        state.Armed[0] = 0b1011;
        state.Logs.Add(new TrackedLogEntry(5, TrackedLogStatus.Sealed, b, a, 12288, UInt128.MaxValue - 5, 7, 4096));
        state.Logs.Add(new TrackedLogEntry(6, TrackedLogStatus.Sealing, c, b, 0, 0, 0, 0));
        state.Logs.Add(new TrackedLogEntry(8, TrackedLogStatus.Active, d, c, 0, 0, 0, 0));
        state.Ranges.Add(new DiskExtent(0, 1 << 20));
        state.Ranges.Add(new DiskExtent(3 << 20, 512));
        return state;
    }

    private static byte[] Reseal(byte[] bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), XxHash3.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8)));
        return bytes;
    }

    [Fact]
    public void Every_field_round_trips()
    {
        ChangeTrackingState state = Sample();
        byte[] bytes = state.Encode();
        Assert.Equal(ChangeTrackingState.HeaderSize + (3 * ChangeTrackingState.LogEntrySize) + (2 * ChangeTrackingState.RangeSize) + 8 + 8, bytes.Length);
        ChangeTrackingState read = ChangeTrackingState.Decode(bytes, "state");
        Assert.Equal(state.VirtualSize, read.VirtualSize);
        Assert.Equal(state.NextSequence, read.NextSequence);
        Assert.Equal(state.ChainHead, read.ChainHead);
        Assert.Equal(state.LastDataWriteGuid, read.LastDataWriteGuid);
        Assert.Equal(state.Reasons, read.Reasons);
        Assert.Equal(state.Generation, read.Generation);
        Assert.Equal(state.RegionShift, read.RegionShift);
        Assert.Equal(state.Armed, read.Armed);
        Assert.Equal(state.Logs, read.Logs);
        Assert.Equal(state.Ranges, read.Ranges);
        Assert.False(read.WholeDisk);
        Assert.False(read.ClosedCleanly);
        Assert.Equal(bytes, read.Encode());
    }

    [Fact]
    public void Every_flipped_bit_and_every_truncation_is_rejected_with_a_typed_error()
    {
        byte[] bytes = Sample().Encode();
        for (int i = 0; i < bytes.Length; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])bytes.Clone();
                damaged[i] ^= (byte)(1 << bit);
                InvalidRecordException ex = Assert.Throws<InvalidRecordException>(() => ChangeTrackingState.Decode(damaged, "state"));
                Assert.StartsWith(ChangeTrackingState.StructureName + ".", ex.Field, StringComparison.Ordinal);
            }
        }

        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<InvalidRecordException>(() => ChangeTrackingState.Decode(bytes.AsSpan(0, length), "state"));
        }
    }

    public static TheoryData<string, int, long, string> Fields() => new()
    {
        { "another version", ChangeTrackingState.VersionOffset, 1, "Version" },
        { "unknown flag", ChangeTrackingState.FlagsOffset, 4, "Flags" },
        { "size not a sector multiple", ChangeTrackingState.VirtualSizeOffset, 1000, "VirtualSize" },
        { "no next sequence", ChangeTrackingState.NextSequenceOffset, 0, "NextSequence" },
        { "sequence not below next", ChangeTrackingState.NextSequenceOffset, 8, "Sequence" },
        { "unknown reason", ChangeTrackingState.ReasonsOffset, 1 << 10, "Reasons" },
        { "derived reason stored", ChangeTrackingState.ReasonsOffset, (long)ResyncReasons.PendingLogsTooLarge, "Reasons" },
        { "region too small", ChangeTrackingState.RegionShiftOffset, 12, "RegionShift" },
        { "region size changes the bitmap size", ChangeTrackingState.RegionShiftOffset, 16, "ArmedWordCount" },
        { "negative generation", ChangeTrackingState.GenerationOffset, -1, "Generation" },
        { "more logs than bytes", ChangeTrackingState.LogCountOffset, 4, "LogCount" },
        { "hostile log count", ChangeTrackingState.LogCountOffset, uint.MaxValue, "LogCount" },
        { "hostile range count", ChangeTrackingState.RangeCountOffset, 1 << 30, "LogCount" },
        { "reserved byte", ChangeTrackingState.ReservedOffset + 3, 1, "Reserved" },
        { "chain head not the first log's predecessor", ChangeTrackingState.ChainHeadOffset, 1, "UniqueId" },
        { "status out of order", ChangeTrackingState.HeaderSize + 8, 3, "Status" },
        { "unknown status", ChangeTrackingState.HeaderSize + 8, 9, "Status" },
        { "sealed log shorter than a header and a block", ChangeTrackingState.HeaderSize + 48, 100, "Length" },
        { "range outside the disk", ChangeTrackingState.HeaderSize + (3 * ChangeTrackingState.LogEntrySize) + 16, 64L << 20, "Range" },
        { "ranges overlapping", ChangeTrackingState.HeaderSize + (3 * ChangeTrackingState.LogEntrySize) + 16, 512, "Range" },
        { "armed region past the end", ChangeTrackingState.HeaderSize + (3 * ChangeTrackingState.LogEntrySize) + 32, 1L << 63, "Armed" },
    };

    /// <summary>A field made invalid with a valid checksum (so only the field check can catch it) names that field.</summary>
    [Theory]
    [MemberData(nameof(Fields))]
    public void An_invalid_field_with_a_valid_checksum_is_rejected_by_name(string what, int offset, long value, string field)
    {
        byte[] bytes = Sample().Encode();
        switch (field)
        {
            case "Version" or "Flags" or "Reasons" or "RegionShift" or "ArmedWordCount" or "LogCount" or "Status" when offset != ChangeTrackingState.HeaderSize + 8:
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), (uint)value);
                break;
            case "Status":
                bytes[offset] = (byte)value;
                break;
            case "UniqueId":
                bytes[offset] ^= 0xFF;
                break;
            case "Reserved":
                bytes[offset] = (byte)value;
                break;
            case "Sequence":
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
                break;
            default:
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
                break;
        }

        InvalidRecordException ex = Assert.Throws<InvalidRecordException>(() => ChangeTrackingState.Decode(Reseal(bytes), "state"));
        Assert.True(ex.Field == ChangeTrackingState.StructureName + "." + field, $"{what}: rejected as {ex.Field} ({ex.Message}), expected {field}");
    }

    [Fact]
    public void Too_many_ranges_become_the_whole_disk()
    {
        ChangeTrackingState state = Sample();
        state.AddRanges(Enumerable.Range(0, ChangeTrackingState.MaxRanges + 10).Select(i => new DiskExtent((4L << 20) + ((long)i * 2048), 512)));
        Assert.True(state.WholeDisk);
        Assert.Empty(state.Ranges);
        Assert.True(ChangeTrackingState.Decode(state.Encode(), "state").WholeDisk);
    }

    [Fact]
    public void Armed_regions_become_merged_ranges_clipped_to_the_disk()
    {
        ulong[] armed = [0b1110_0001UL | (1UL << 63), 1];
        List<DiskExtent> ranges = ChangeTrackingState.ArmedRanges(armed, 20, (64L << 20) + (512 << 10));
        Assert.Equal([new DiskExtent(0, 1 << 20), new DiskExtent(5L << 20, 3L << 20), new DiskExtent(63L << 20, (1L << 20) + (512 << 10))], ranges);
    }
}
