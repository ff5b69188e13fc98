using System.Buffers.Binary;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.Hrl.HrlSpecLayout;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

public sealed class HrlRoundTripTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (int seed = 1; seed <= 40; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Random_logs_read_back_exactly(int seed)
    {
        var random = new Random(seed);
        int metadataSize = new[] { 512, 1024, 4096, 8192 }[random.Next(4)];
        int bufferSize = new[] { 4096, 16384, 1 << 20 }[random.Next(3)];
        var options = new HrlWriterOptions { MetadataSize = metadataSize, BufferSize = bufferSize };
        int capacity = options.EntriesPerMetadataBlock;
        int[] batches = Enumerable.Range(0, random.Next(0, 6)).Select(_ => random.Next(0, Math.Min((2 * capacity) + 3, 120))).ToArray();
        bool seal = random.Next(3) != 0;
        int tail = seal ? 0 : random.Next(0, 4);
        WrittenLog log = HrlTestLogs.Write(_temp.File($"{seed}.hrl"), random, options, batches, seal, tail, largeEvery: 17, largeSectors: 40);

        using HrlReader reader = HrlReader.Open(log.Path);
        HrlFileHeader header = reader.Header;
        Assert.Equal(HrlFormat.Version2, header.LogFormatVersion);
        Assert.Equal(log.Identity.UniqueId, header.UniqueId);
        Assert.Equal(log.Identity.PreviousUniqueId, header.PreviousUniqueId);
        Assert.Equal(log.Identity.Vhd2DataWriteGuid, header.Vhd2DataWriteGuid);
        Assert.Equal((uint)metadataSize, header.MetadataSize);
        Assert.Equal(HrlTestLogs.Start, header.CreationTime);
        Assert.Equal("rpl", header.CreatorApplication);
        Assert.Equal(0ul, header.OriginalSize);

        HrlRecoveryResult recovered = reader.Recover();
        Assert.Equal(log.ExpectedBlockCount, recovered.BlockCount);
        Assert.Equal(log.Committed.Count, recovered.RecordCount);
        HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords(recovered));

        if (seal)
        {
            long length = new FileInfo(log.Path).Length;
            Assert.True(reader.IsClosedCleanly);
            Assert.Equal(log.SealedHeader, header);
            Assert.Equal((ulong)length, header.EolLocation);
            Assert.Equal((ulong)length, header.CurrentSize);
            Assert.Equal((ulong)log.Committed.Count, header.TotalMetadataEntries);
            Assert.True(header.LastModifiedTime >= header.CreationTime);
            Assert.Equal(new HrlRecoveryResult(length, length, recovered.BlockCount, log.Committed.Count), recovered);

            HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords());
            Assert.Equal(log.Committed.Count(r => HrlChecksum.Compute(r.Data) != 0), reader.VerifyData());
            foreach (HrlRecord record in reader.ReadRecords().Where(r => r.Index % 5 == 0))
            {
                byte[] data = new byte[record.Length];
                await reader.ReadDataAsync(record, data);
                Assert.Equal(log.Committed[(int)record.Index].Data, data);
            }

            // The test's own walk of the spec layout finds the same blocks.
            List<(long Position, int Count)> blocks = WalkBlocks(File.ReadAllBytes(log.Path));
            Assert.Equal(recovered.BlockCount, blocks.Count);
            Assert.Equal(log.Committed.Count, blocks.Sum(b => b.Count));
        }
        else
        {
            Assert.False(reader.IsClosedCleanly);
            Assert.Equal(0ul, header.EolLocation);
            InvalidLogFormatException ex = Assert.Throws<InvalidLogFormatException>(() => reader.ReadRecords());
            Assert.Equal("EOLLocation", ex.Field);

            // Uncommitted appends stay in the writer's buffer unless they overflowed it: a torn tail needs a tail.
            Assert.True(tail > 0 || !recovered.HasTornTail);
        }
    }

    [Fact]
    public void A_batch_larger_than_a_block_is_split_into_full_blocks_in_order()
    {
        var options = new HrlWriterOptions { MetadataSize = 512 }; // 15 entries per block
        WrittenLog log = HrlTestLogs.Write(_temp.File("split.hrl"), new Random(3), options, [40, 15, 1], seal: true);
        List<(long Position, int Count)> blocks = WalkBlocks(File.ReadAllBytes(log.Path));
        Assert.Equal([15, 15, 10, 15, 1], blocks.Select(b => b.Count));

        // Each block's data sits right before it, and PreviousMetadataLocation is the distance back.
        byte[] bytes = File.ReadAllBytes(log.Path);
        long dataStart = HeaderSize;
        int recordIndex = 0;
        foreach ((long position, int count) in blocks)
        {
            long length = log.Committed.Skip(recordIndex).Take(count).Sum(r => (long)r.Data.Length);
            Assert.Equal(dataStart + length, position);
            ulong previous = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)position));
            Assert.Equal(dataStart == HeaderSize ? 0ul : (ulong)(position - (dataStart - 512)), previous);
            recordIndex += count;
            dataStart = position + 512;
        }

        using HrlReader reader = HrlReader.Open(log.Path);
        HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords());
    }

    [Fact]
    public void An_empty_sealed_log_has_one_empty_block_like_the_spec_example()
    {
        string path = _temp.File("empty.hrl");
        WrittenLog log = HrlTestLogs.Write(path, new Random(1), HrlWriterOptions.Default, [], seal: true);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(HeaderSize + 4096, bytes.Length);
        Assert.Equal(4294967295u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(HeaderSize + MetadataHeader("Checksum").Offset)));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(HeaderSize + MetadataHeader("Checksum").Offset), 0);
        Assert.Equal(-1, bytes.AsSpan(HeaderSize).IndexOfAnyExcept((byte)0));

        using HrlReader reader = HrlReader.Open(path);
        Assert.Equal((ulong)(HeaderSize + 4096), reader.Header.EolLocation);
        Assert.Empty(reader.ReadRecords());
        Assert.Equal(new HrlRecoveryResult(HeaderSize + 4096, HeaderSize + 4096, 1, 0), reader.Recover());
        Assert.Equal(log.SealedHeader, reader.Header);
    }

    [Fact]
    public void A_new_log_is_a_valid_open_log_with_nothing_in_it()
    {
        string path = _temp.File("new.hrl");
        // As after a crash right after the log was created (the reader shares the file with readers only).
        HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), new ManualTimeProvider(HrlTestLogs.Start)).Dispose();
        using HrlReader reader = HrlReader.Open(path);
        Assert.False(reader.IsClosedCleanly);
        Assert.Equal(HeaderSize, reader.FileLength);
        HrlRecoveryResult recovered = reader.Recover();
        Assert.Equal(new HrlRecoveryResult(HeaderSize, HeaderSize, 0, 0), recovered);
        Assert.Empty(reader.ReadRecords(recovered));
    }

    [Fact]
    public void A_version_1_log_is_read_without_Vhd2DataWriteGuid()
    {
        string path = _temp.File("v1.hrl");
        WrittenLog log = HrlTestLogs.Write(path, new Random(11), HrlWriterOptions.Default, [5, 3], seal: true);
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Header("LogFormatVersion").Offset), 0x10000);
        bytes.AsSpan(Header("Vhd2DataWriteGuid").Offset, 16).Clear();
        Restamp(bytes.AsSpan(0, HeaderSize), HeaderFields);
        File.WriteAllBytes(path, bytes);

        using (HrlReader reader = HrlReader.Open(path))
        {
            Assert.Equal(0x10000u, reader.Header.LogFormatVersion);
            Assert.Equal(Guid.Empty, reader.Header.Vhd2DataWriteGuid);
            Assert.Equal(log.Identity.UniqueId, reader.Header.UniqueId);
            HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords());
        }

        // In version 1 those 16 bytes are reserved: a value there is rejected.
        bytes[Header("Vhd2DataWriteGuid").Offset + 3] = 1;
        Restamp(bytes.AsSpan(0, HeaderSize), HeaderFields);
        File.WriteAllBytes(path, bytes);
        InvalidLogFormatException ex = Assert.Throws<InvalidLogFormatException>(() => HrlReader.Open(path));
        Assert.Equal("Reserved", ex.Field);
        Assert.Equal(Header("Vhd2DataWriteGuid").Offset + 3, ex.Offset);
    }

    [Fact]
    public void Writes_larger_than_the_buffer_go_straight_to_the_file()
    {
        var options = new HrlWriterOptions { BufferSize = 4096 };
        WrittenLog log = HrlTestLogs.Write(_temp.File("large.hrl"), new Random(5), options, [3, 4], seal: true, largeEvery: 2, largeSectors: 100);
        using HrlReader reader = HrlReader.Open(log.Path);
        HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords());
        Assert.Contains(log.Committed, r => r.Data.Length == 100 * 512);
    }
}
