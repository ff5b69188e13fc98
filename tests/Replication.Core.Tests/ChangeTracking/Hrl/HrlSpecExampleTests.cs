using System.Buffers.Binary;
using System.Text;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.Hrl.HrlSpecLayout;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>
/// [MS-HRL] section 3: the example log rendered byte by byte from its printed fields, then checked against the
/// library's checksum code and read with its reader.
/// </summary>
public sealed class HrlSpecExampleTests : IDisposable
{
    private const long FirstBlock = 4096;
    private const long SecondBlock = 328192;
    private const long EolLocation = 332288;
    private const int MetadataSize = 4096;

    /// <summary>Metadata #2 as printed (MetaDataId, MetaOp, Length, ByteOffset, Timestamp, Checksum), last slot first.</summary>
    private const string PrintedEntries = """
        58 1 4096 3626340352 539842382 4294966639
        57 1 4096 3626344448 539842382 4294966623
        56 1 8192 3626348544 539842382 4294966591
        55 1 4096 3628871680 539842382 4294966696
        54 1 4096 3626340352 539842382 4294966639
        53 1 4096 3626414080 539842382 4294966606
        52 1 4096 3628867584 539842382 4294966712
        51 1 4096 10188185600 539842382 4294966776
        50 1 4096 3793489920 539842382 4294966766
        49 1 8192 3737305088 539842382 4294966412
        48 1 4096 3704586240 539842382 4294966481
        47 1 4096 3626352640 539842382 4294966591
        46 1 8192 3700453376 539842382 4294966544
        45 1 4096 3694907392 539842382 4294966549
        44 1 4096 3626418176 539842382 4294966590
        43 1 4096 3626352640 539842382 4294966591
        42 1 31232 3673764352 539842382 4294966413
        41 1 4096 3626418176 539842382 4294966590
        40 1 31232 3673733120 539842382 4294966280
        39 1 4096 3794485248 539842382 4294966703
        38 1 4096 3793252352 539842382 4294966674
        37 1 512 3676929536 539842382 4294966664
        36 1 4096 3793178624 539842382 4294966707
        35 1 8192 3793145856 539842382 4294966564
        34 1 4096 3626352640 539842382 4294966591
        33 1 8192 3792945152 539842382 4294966583
        32 1 4096 3777036288 539842382 4294966778
        31 1 8192 3626414080 539842382 4294966590
        30 1 4096 3774361600 539842382 4294966516
        29 1 4096 3774308352 539842382 4294966469
        28 1 16384 3774267392 539842382 4294966326
        27 1 512 139058688 539842382 4294966747
        26 1 512 138656768 539842382 4294966787
        25 1 4096 3771564032 539842382 4294966479
        24 1 8192 3771551744 539842382 4294966511
        23 1 1024 135266304 539842382 4294967024
        22 1 4096 3760070656 539842381 4294966751
        21 1 8192 3757490176 539842381 4294966360
        20 1 512 139058688 539842381 4294966748
        19 1 512 138656768 539842381 4294966788
        18 1 4096 3743948800 539842381 4294966742
        17 1 4096 3737313280 539842381 4294966397
        16 1 12288 3699957760 539842381 4294966425
        15 1 4096 3734429696 539842381 4294966441
        14 1 4096 3699900416 539842381 4294966681
        13 1 4096 7792652288 539842381 4294966594
        12 1 4096 3626344448 539842381 4294966624
        11 1 4096 3722543104 539842381 4294966463
        10 1 4096 3709980672 539842381 4294966575
        9 1 4096 3699830784 539842381 4294966443
        8 1 4096 7792644096 539842381 4294966626
        7 1 2048 147937280 539842381 4294966740
        6 1 2048 139466752 539842381 4294966933
        5 1 4096 4111884288 539842381 4294966674
        4 1 4096 3700805632 539842381 4294966460
        3 1 4096 3699798016 539842381 4294966571
        2 1 4096 8026886144 539842381 4294966558
        1 1 4096 3626348544 539842381 4294966608
        """;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Entries in slot order (MetaDataId 1 first).</summary>
    private static List<ExampleEntry> Entries() =>
        PrintedEntries.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' '))
            .Select(p => new ExampleEntry(int.Parse(p[0]), byte.Parse(p[1]), uint.Parse(p[2]), ulong.Parse(p[3]), uint.Parse(p[4]), uint.Parse(p[5])))
            .OrderBy(e => e.Id)
            .ToList();

    [Fact]
    public void The_example_entries_fill_exactly_the_space_between_the_two_blocks()
    {
        List<ExampleEntry> entries = Entries();
        Assert.Equal(58, entries.Count);
        Assert.Equal(Enumerable.Range(1, 58), entries.Select(e => e.Id));
        Assert.Equal(SecondBlock - FirstBlock - MetadataSize, entries.Sum(e => (long)e.Length));
        Assert.Equal(320000, entries.Sum(e => (long)e.Length));
    }

    [Fact]
    public void Our_checksum_reproduces_every_printed_metadata_checksum()
    {
        byte[] log = RenderExample();

        // Metadata #1: nothing but zeros, so the checksum is ~0.
        ReadOnlySpan<byte> first = log.AsSpan((int)FirstBlock, 32);
        Assert.Equal(4294967295u, HrlMetadataHeader.ComputeChecksum(first));
        Assert.Equal(4294967295u, ReferenceChecksum(first, MetadataHeader("Checksum").Offset));

        // Metadata #2: PreviousMetadataLocation 324096 (bytes 0x00 0xF2 0x04: 246) and 58 entries: ~304.
        ReadOnlySpan<byte> second = log.AsSpan((int)SecondBlock, 32);
        Assert.Equal(4294966991u, HrlMetadataHeader.ComputeChecksum(second));

        List<ExampleEntry> entries = Entries();
        for (int slot = 0; slot < entries.Count; slot++)
        {
            ReadOnlySpan<byte> entry = log.AsSpan((int)SecondBlock + 32 + (slot * 32), 32);
            Assert.Equal(entries[slot].Checksum, HrlMetadataEntry.ComputeChecksum(entry));
            Assert.Equal(entries[slot].Checksum, HrlChecksum.Compute(entry, Entry("Checksum").Offset));
        }
    }

    [Fact]
    public void Our_header_checksum_follows_the_algorithm_for_the_example_header()
    {
        // The printed header checksum (4294959739) does not follow from the printed fields (see FORMATS.md), so
        // the header is checked against the section 2.6 algorithm instead.
        byte[] log = RenderExample();
        ReadOnlySpan<byte> header = log.AsSpan(0, HeaderSize);
        uint reference = ReferenceChecksum(header, Header("Checksum").Offset);
        Assert.Equal(reference, HrlFileHeader.ComputeChecksum(header));
        Assert.Equal(reference, BinaryPrimitives.ReadUInt32LittleEndian(header[Header("Checksum").Offset..]));
    }

    [Fact]
    public void The_reader_reads_the_example_header()
    {
        string path = WriteExample();
        using HrlReader reader = HrlReader.Open(path);
        HrlFileHeader header = reader.Header;
        Assert.True(reader.IsClosedCleanly);
        Assert.Equal(0x20000u, header.LogFormatVersion);
        Assert.Equal(539842380u, header.TimeStamp);
        Assert.Equal(new DateTimeOffset(2017, 2, 8, 4, 13, 0, TimeSpan.Zero), header.CreationTime);
        Assert.Equal(new DateTimeOffset(2017, 2, 8, 4, 13, 4, TimeSpan.Zero), header.LastModifiedTime);
        Assert.Equal("ct", header.CreatorApplication);
        Assert.Equal(0xA0000u, header.CreatorVersion);
        Assert.Equal(0ul, header.OriginalSize);
        Assert.Equal((ulong)EolLocation, header.CurrentSize);
        Assert.Equal((ulong)EolLocation, header.EolLocation);
        Assert.Equal(0, header.ErrorCode);
        Assert.Equal((uint)MetadataSize, header.MetadataSize);
        Assert.Equal(Guid.Parse("572fc7ff-1f03-49ab-b3c5-30a665b8e20c"), header.UniqueId);
        Assert.Equal(Guid.Parse("a8ae4b46-f7ad-4402-87aa-5b33e9f89c77"), header.PreviousUniqueId);
        Assert.Equal(58ul, header.TotalMetadataEntries);
        Assert.Equal(0u, header.FileType);
        Assert.Equal((ushort)0, header.Flags);
        Assert.Equal(Guid.Parse("b9be5c57-f8be-5503-98bb-6c44faf9ac87"), header.Vhd2DataWriteGuid);
    }

    [Fact]
    public void The_reader_yields_the_58_example_entries_in_log_order()
    {
        string path = WriteExample();
        using HrlReader reader = HrlReader.Open(path);
        List<HrlRecord> records = reader.ReadRecords().ToList();
        List<ExampleEntry> entries = Entries();

        Assert.Equal(58, records.Count);
        long fileOffset = FirstBlock + MetadataSize;
        for (int i = 0; i < entries.Count; i++)
        {
            HrlRecord record = records[i];
            Assert.Equal(i, record.Index);
            Assert.Equal((long)entries[i].ByteOffset, record.DiskOffset);
            Assert.Equal(entries[i].Length, record.Length);
            Assert.Equal(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(entries[i].Timestamp), record.Timestamp);
            Assert.Equal(fileOffset, record.FileOffset);
            Assert.Equal(0u, record.DataChecksum);

            // DataChecksum 0 means "not recorded": the data is read without a check.
            byte[] data = new byte[record.Length];
            reader.ReadData(record, data);
            Assert.All(data, b => Assert.Equal((byte)entries[i].Id, b));
            fileOffset += record.Length;
        }

        Assert.Equal(SecondBlock, fileOffset);
        Assert.Equal(0, reader.VerifyData());
    }

    [Fact]
    public void Recovery_finds_the_whole_example()
    {
        string path = WriteExample();
        using HrlReader reader = HrlReader.Open(path);
        HrlRecoveryResult recovered = reader.Recover();
        Assert.Equal(new HrlRecoveryResult(EolLocation, EolLocation, 2, 58), recovered);
        Assert.False(recovered.HasTornTail);
        Assert.Equal(reader.ReadRecords(), reader.ReadRecords(recovered));
    }

    private string WriteExample()
    {
        string path = _temp.File("example.hrl");
        File.WriteAllBytes(path, RenderExample());
        return path;
    }

    /// <summary>The example log, field by field from the printed values and the spec's field table.</summary>
    internal static byte[] RenderExample()
    {
        byte[] log = new byte[EolLocation];
        Span<byte> header = log.AsSpan(0, HeaderSize);
        Encoding.ASCII.GetBytes("msctlog").CopyTo(header[Header("Cookie").Offset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[Header("LogFormatVersion").Offset..], 0x20000);
        BinaryPrimitives.WriteUInt32LittleEndian(header[Header("TimeStamp").Offset..], 539842380);
        Encoding.ASCII.GetBytes("ct").CopyTo(header[Header("CreatorApplication").Offset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[Header("CreatorVersion").Offset..], 0xA0000);
        BinaryPrimitives.WriteUInt64LittleEndian(header[Header("OriginalSize").Offset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(header[Header("CurrentSize").Offset..], (ulong)EolLocation);
        BinaryPrimitives.WriteUInt64LittleEndian(header[Header("EOLLocation").Offset..], (ulong)EolLocation);
        BinaryPrimitives.WriteInt32LittleEndian(header[Header("ErrorCode").Offset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[Header("MetadataSize").Offset..], MetadataSize);
        Guid.Parse("572fc7ff-1f03-49ab-b3c5-30a665b8e20c").TryWriteBytes(header[Header("UniqueId").Offset..]);
        Guid.Parse("a8ae4b46-f7ad-4402-87aa-5b33e9f89c77").TryWriteBytes(header[Header("PreviousUniqueId").Offset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[Header("LastModifiedTimeStamp").Offset..], 539842384);
        BinaryPrimitives.WriteUInt64LittleEndian(header[Header("TotalMetadataEntries").Offset..], 58);
        Guid.Parse("b9be5c57-f8be-5503-98bb-6c44faf9ac87").TryWriteBytes(header[Header("Vhd2DataWriteGuid").Offset..]);
        Restamp(header, HeaderFields);

        // Metadata #1 at 4096: no entries, PreviousMetadataLocation 0, the printed checksum.
        Span<byte> first = log.AsSpan((int)FirstBlock, MetadataSize);
        BinaryPrimitives.WriteUInt32LittleEndian(first[MetadataHeader("Checksum").Offset..], 4294967295);

        // The data of metadata #2's entries, in entry order, each filled with its MetaDataId.
        List<ExampleEntry> entries = Entries();
        int dataOffset = (int)(FirstBlock + MetadataSize);
        foreach (ExampleEntry entry in entries)
        {
            log.AsSpan(dataOffset, (int)entry.Length).Fill((byte)entry.Id);
            dataOffset += (int)entry.Length;
        }

        // Metadata #2 at 328192, with the printed values (checksums included, not recomputed).
        Span<byte> second = log.AsSpan((int)SecondBlock, MetadataSize);
        BinaryPrimitives.WriteUInt64LittleEndian(second[MetadataHeader("PreviousMetadataLocation").Offset..], 324096);
        BinaryPrimitives.WriteUInt32LittleEndian(second[MetadataHeader("ValidMetadataEntries").Offset..], 58);
        BinaryPrimitives.WriteUInt32LittleEndian(second[MetadataHeader("Checksum").Offset..], 4294966991);
        for (int slot = 0; slot < entries.Count; slot++)
        {
            ExampleEntry e = entries[slot];
            Span<byte> entry = second.Slice(32 + (slot * 32), 32);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[Entry("ByteOffset").Offset..], e.ByteOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[Entry("Checksum").Offset..], e.Checksum);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[Entry("DataLength").Offset..], e.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[Entry("TimeStamp").Offset..], e.Timestamp);
            entry[Entry("MetaOperation").Offset] = e.Operation;
            BinaryPrimitives.WriteUInt32LittleEndian(entry[Entry("DataChecksum").Offset..], 0);
        }

        return log;
    }

    private sealed record ExampleEntry(int Id, byte Operation, uint Length, ulong ByteOffset, uint Timestamp, uint Checksum);
}
