using System.Buffers.Binary;
using FsCheck.Xunit;
using Replication.Core.ChangeTracking.Hrl;
using static Replication.Core.Tests.ChangeTracking.Hrl.HrlSpecLayout;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

public sealed class HrlStructureTests
{
    [Property(MaxTest = 300)]
    public bool Vectorised_sum_equals_the_reference_for_any_buffer_and_alignment(byte[] data, byte skip)
    {
        // Misaligned starts and odd lengths exercise the vector loops and their scalar tails.
        ReadOnlySpan<byte> span = data.AsSpan(Math.Min(skip % 64, data.Length));
        return HrlChecksum.Compute(span) == ReferenceChecksum(span) && ~HrlChecksum.SumPortable(span) == ReferenceChecksum(span);
    }

    [Fact]
    public void Sum_wraps_at_32_bits_like_the_reference()
    {
        // 17 MiB of 0xFF sums past 2^32.
        byte[] data = new byte[17 << 20];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(ReferenceChecksum(data), HrlChecksum.Compute(data));
        Assert.Equal(unchecked((uint)(17L << 20) * 255u), HrlChecksum.Sum(data));
        Assert.Equal(HrlChecksum.Sum(data), HrlChecksum.SumPortable(data));
    }

    [Fact]
    public void Checksum_leaves_out_exactly_the_four_field_bytes()
    {
        byte[] structure = new byte[32];
        new Random(7).NextBytes(structure);
        uint before = HrlChecksum.Compute(structure, 12);
        structure.AsSpan(12, 4).Fill(0xAB);
        Assert.Equal(before, HrlChecksum.Compute(structure, 12));
        Assert.Equal(ReferenceChecksum(structure, 12), before);
        structure[16]++;
        Assert.NotEqual(before, HrlChecksum.Compute(structure, 12));
    }

    [Fact]
    public void Empty_buffer_checksum_is_all_ones() => Assert.Equal(uint.MaxValue, HrlChecksum.Compute([]));

    [Fact]
    public void Timestamps_are_seconds_since_2000_utc()
    {
        Assert.Equal(539842380u, HrlTimestamp.FromDateTimeOffset(new DateTimeOffset(2017, 2, 8, 4, 13, 0, TimeSpan.Zero)));
        Assert.Equal(539842380u, HrlTimestamp.FromDateTimeOffset(new DateTimeOffset(2017, 2, 8, 6, 13, 0, 999, TimeSpan.FromHours(2))));
        Assert.Equal(new DateTimeOffset(2017, 2, 8, 4, 13, 0, TimeSpan.Zero), HrlTimestamp.ToDateTimeOffset(539842380));
        Assert.Equal(0u, HrlTimestamp.FromDateTimeOffset(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(uint.MaxValue, HrlTimestamp.FromDateTimeOffset(HrlTimestamp.ToDateTimeOffset(uint.MaxValue)));
        Assert.Throws<ArgumentOutOfRangeException>(() => HrlTimestamp.FromDateTimeOffset(new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero)));
        Assert.Throws<ArgumentOutOfRangeException>(() => HrlTimestamp.FromDateTimeOffset(HrlTimestamp.ToDateTimeOffset(uint.MaxValue).AddSeconds(1)));
    }

    [Fact]
    public void File_header_round_trips_every_field_at_the_spec_offsets()
    {
        var header = new HrlFileHeader
        {
            LogFormatVersion = 0x20000,
            TimeStamp = 0x01020304,
            CreatorApplication = "ab\u00e9",
            CreatorVersion = 0x05060708,
            OriginalSize = 0x1112131415161718,
            CurrentSize = 0x2122232425262728,
            EolLocation = 0x0000_0001_0000_0000,
            ErrorCode = -2,
            MetadataSize = 8192,
            UniqueId = Guid.NewGuid(),
            PreviousUniqueId = Guid.NewGuid(),
            LastModifiedTimeStamp = 0x31323334,
            TotalMetadataEntries = 0x4142434445464748,
            Vhd2DataWriteGuid = Guid.NewGuid(),
        };
        byte[] bytes = new byte[HrlFileHeader.Size];
        HrlFileHeader written = header.WriteWithChecksum(bytes);

        Assert.Equal("msctlog\0"u8.ToArray(), bytes.AsSpan(Header("Cookie").Offset, 8).ToArray());
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("LogFormatVersion").Offset)));
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("TimeStamp").Offset)));
        Assert.Equal(new byte[] { (byte)'a', (byte)'b', 0xE9, 0 }, bytes.AsSpan(Header("CreatorApplication").Offset, 4).ToArray());
        Assert.Equal(0x05060708u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("CreatorVersion").Offset)));
        Assert.Equal(0x1112131415161718ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Header("OriginalSize").Offset)));
        Assert.Equal(0x2122232425262728ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Header("CurrentSize").Offset)));
        Assert.Equal(ReferenceChecksum(bytes, Header("Checksum").Offset), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("Checksum").Offset)));
        Assert.Equal(written.Checksum, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("Checksum").Offset)));
        Assert.Equal(0x0000_0001_0000_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Header("EOLLocation").Offset)));
        Assert.Equal(-2, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Header("ErrorCode").Offset)));
        Assert.Equal(8192u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("MetadataSize").Offset)));
        Assert.Equal(header.UniqueId, new Guid(bytes.AsSpan(Header("UniqueId").Offset, 16)));
        Assert.Equal(header.PreviousUniqueId, new Guid(bytes.AsSpan(Header("PreviousUniqueId").Offset, 16)));
        Assert.Equal(0x31323334u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Header("LastModifiedTimeStamp").Offset)));
        Assert.Equal(0x4142434445464748ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Header("TotalMetadataEntries").Offset)));
        Assert.Equal(header.Vhd2DataWriteGuid, new Guid(bytes.AsSpan(Header("Vhd2DataWriteGuid").Offset, 16)));
        Assert.Equal(-1, bytes.AsSpan(Header("Reserved").Offset).IndexOfAnyExcept((byte)0));

        Assert.True(HrlFileHeader.TryRead(bytes, out HrlFileHeader read));
        Assert.Equal(written, read);
    }

    [Fact]
    public void Metadata_header_and_entry_round_trip_at_the_spec_offsets()
    {
        byte[] bytes = new byte[32];
        new HrlMetadataHeader(0x0102030405060708, 0x11121314, 0).WriteWithChecksum(bytes);
        Assert.Equal(0x0102030405060708ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(MetadataHeader("PreviousMetadataLocation").Offset)));
        Assert.Equal(0x11121314u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(MetadataHeader("ValidMetadataEntries").Offset)));
        Assert.Equal(ReferenceChecksum(bytes, MetadataHeader("Checksum").Offset), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(MetadataHeader("Checksum").Offset)));
        Assert.True(HrlMetadataHeader.TryRead(bytes, out HrlMetadataHeader header));
        Assert.Equal((0x0102030405060708ul, 0x11121314u), (header.PreviousMetadataLocation, header.ValidMetadataEntries));

        bytes.AsSpan().Clear();
        new HrlMetadataEntry(0x0000_0102_0304_0600, 0, 0x00123400, 0x21222324, 1, 0x31323334, 0).WriteWithChecksum(bytes);
        Assert.Equal(0x0000_0102_0304_0600ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Entry("ByteOffset").Offset)));
        Assert.Equal(0x00123400u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Entry("DataLength").Offset)));
        Assert.Equal(0x21222324u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Entry("TimeStamp").Offset)));
        Assert.Equal(1, bytes[Entry("MetaOperation").Offset]);
        Assert.Equal(0x31323334u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Entry("DataChecksum").Offset)));
        Assert.Equal(0, bytes[Entry("Location").Offset]);
        Assert.Equal(ReferenceChecksum(bytes, Entry("Checksum").Offset), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Entry("Checksum").Offset)));
        Assert.True(HrlMetadataEntry.TryRead(bytes, out HrlMetadataEntry entry));
        Assert.Equal(0x00123400u, entry.DataLength);
    }

    [Fact]
    public void A_cookie_padded_with_a_space_is_accepted()
    {
        byte[] bytes = new byte[HrlFileHeader.Size];
        new HrlFileHeader { LogFormatVersion = 0x20000, MetadataSize = 4096, UniqueId = Guid.NewGuid() }.WriteWithChecksum(bytes);
        bytes[7] = (byte)' ';
        Restamp(bytes, HeaderFields);
        Assert.True(HrlFileHeader.TryRead(bytes, out _));
        bytes[7] = (byte)'x';
        Restamp(bytes, HeaderFields);
        InvalidLogFormatException ex = Assert.Throws<InvalidLogFormatException>(() => HrlFileHeader.Read(bytes, "x.hrl"));
        Assert.Equal("Cookie", ex.Field);
        Assert.Equal("HRL file header", ex.Structure);
        Assert.Equal("x.hrl", ex.FilePath);
        Assert.Equal(ReplicationErrorCode.InvalidFormat, ex.Code);
        Assert.False(ex.IsRecoverable);
    }
}
