using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

public sealed class HrlWriterTests : IDisposable
{
    private static readonly HrlLogIdentity Identity = new(Guid.NewGuid(), Guid.NewGuid(), Guid.Empty);
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Append_requires_sector_aligned_writes_and_a_representable_time()
    {
        using HrlWriter writer = HrlWriter.Create(_temp.File("a.hrl"), Identity, _clock);
        byte[] sector = new byte[512];
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(-512, sector));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(100, sector));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(0, new byte[511]));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(0, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(long.MaxValue / 512 * 512, sector));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append(0, sector, new DateTimeOffset(1999, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        // Rejected arguments do not fault the writer.
        writer.Append(512, sector);
        writer.Commit();
        Assert.Equal(1, writer.CommittedEntryCount);
    }

    [Fact]
    public void Invalid_options_are_named_by_validation_and_refused_before_a_log_is_created()
    {
        (HrlWriterOptions Options, string Property)[] invalid =
        [
            (new HrlWriterOptions { MetadataSize = 0 }, "MetadataSize"),
            (new HrlWriterOptions { MetadataSize = 1000 }, "MetadataSize"),
            (new HrlWriterOptions { MetadataSize = 2 << 20 }, "MetadataSize"),
            (new HrlWriterOptions { BufferSize = 100 }, "BufferSize"),
            (new HrlWriterOptions { CreatorApplication = "toolong" }, "CreatorApplication"),
            (new HrlWriterOptions { CreatorApplication = "\u4e2d" }, "CreatorApplication"),
        ];
        foreach ((HrlWriterOptions options, string property) in invalid)
        {
            Assert.StartsWith(property, Assert.Single(options.Validate()), StringComparison.Ordinal);
            string path = _temp.File("invalid.hrl");
            ArgumentException refused = Assert.Throws<ArgumentException>(() => HrlWriter.Create(path, Identity, _clock, options));
            Assert.Contains(property, refused.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(path));
        }

        Assert.Empty(HrlWriterOptions.Default.Validate());
        Assert.Equal(127, HrlWriterOptions.Default.EntriesPerMetadataBlock);
        Assert.Equal(15, new HrlWriterOptions { MetadataSize = 512 }.EntriesPerMetadataBlock);
    }

    [Fact]
    public void Create_never_overwrites_and_needs_a_unique_id()
    {
        string path = _temp.File("existing.hrl");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.ThrowsAny<IOException>(() => HrlWriter.Create(path, Identity, _clock));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Throws<ArgumentException>(() => HrlWriter.Create(_temp.File("b.hrl"), default, _clock));
        Assert.False(File.Exists(_temp.File("b.hrl")));
    }

    [Fact]
    public void A_sealed_writer_refuses_further_writes()
    {
        using HrlWriter writer = HrlWriter.Create(_temp.File("s.hrl"), Identity, _clock);
        writer.Append(0, new byte[512]);
        HrlFileHeader header = writer.Seal();
        Assert.True(writer.IsSealed);
        Assert.Equal(1ul, header.TotalMetadataEntries);
        Assert.Throws<InvalidOperationException>(() => writer.Append(0, new byte[512]));
        Assert.Throws<InvalidOperationException>(() => writer.Commit());
        Assert.Throws<InvalidOperationException>(() => writer.Seal());
        writer.Flush();
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.Append(0, new byte[512]));
    }

    [Fact]
    public void Seal_stamps_the_clock_and_the_totals_into_the_header()
    {
        string path = _temp.File("t.hrl");
        using (HrlWriter writer = HrlWriter.Create(path, Identity, _clock))
        {
            Assert.Equal(HrlTestLogs.Start, writer.Header.CreationTime);
            Assert.Equal(0ul, writer.Header.EolLocation);
            writer.Append(4096, new byte[4096], HrlTestLogs.Start.AddSeconds(1));
            Assert.Equal(1, writer.PendingEntryCount);
            Assert.Equal(HrlFormat.HeaderSize, writer.CommittedLength);
            writer.Commit();
            Assert.Equal(0, writer.PendingEntryCount);
            Assert.Equal(4096 + 4096 + 4096, writer.CommittedLength);
            _clock.Now = HrlTestLogs.Start.AddMinutes(5);
            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        Assert.Equal(HrlTestLogs.Start.AddMinutes(5), reader.Header.LastModifiedTime);
        Assert.Equal(HrlTestLogs.Start, reader.Header.CreationTime);
        Assert.Equal(12288ul, reader.Header.EolLocation);
        Assert.Equal(HrlTestLogs.Start.AddSeconds(1), Assert.Single(reader.ReadRecords()).Timestamp);
    }

    [Fact]
    public async Task Flush_may_run_on_another_thread_while_writes_are_appended()
    {
        using HrlWriter writer = HrlWriter.Create(_temp.File("concurrent.hrl"), Identity, _clock, new HrlWriterOptions { BufferSize = 8192 });
        byte[] data = new byte[4096];
        using var stop = new CancellationTokenSource();
        Task flusher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                writer.Flush();
            }
        });

        for (int i = 0; i < 3000; i++)
        {
            writer.Append(i * 4096L, data);
            if (i % 10 == 9)
            {
                writer.Commit();
            }
        }

        stop.Cancel();
        await flusher;
        writer.Seal();
        using HrlReader reader = HrlReader.Open(writer.FilePath);
        Assert.Equal(3000, reader.ReadRecords().Count());
    }

    [Fact]
    public void A_log_created_in_preallocated_zeros_is_cut_to_its_end_when_sealed_or_recovered()
    {
        foreach (bool seal in new[] { true, false })
        {
            string zeros = _temp.File($"zeros-{seal}");
            File.WriteAllBytes(zeros, new byte[1 << 20]);
            string path = _temp.File($"prealloc-{seal}.hrl");
            using (HrlWriter writer = HrlWriter.CreateFromZeroedFile(zeros, path, Identity, _clock, new HrlWriterOptions { MetadataSize = 1024 }))
            {
                Assert.False(File.Exists(zeros));
                Assert.Equal(1 << 20, new FileInfo(path).Length);
                writer.Append(4096, HrlTestLogs.Data(new Random(1), 8));
                writer.Commit();
                writer.Flush();
                writer.Append(0, HrlTestLogs.Data(new Random(2), 2));
                if (seal)
                {
                    HrlFileHeader header = writer.Seal();
                    Assert.Equal((ulong)new FileInfo(path).Length, header.EolLocation);
                }
            }

            if (!seal)
            {
                HrlFileHeader recovered = HrlWriter.SealRecovered(path, _clock, out HrlRecoveryResult result);
                Assert.Equal(1 << 20, result.FileLength);
                Assert.Equal((ulong)new FileInfo(path).Length, recovered.EolLocation);
            }

            using HrlReader reader = HrlReader.Open(path);
            Assert.Equal(seal ? 2 : 1, reader.ReadRecords().Count());
        }

        File.WriteAllBytes(_temp.File("taken.hrl"), [1]);
        File.WriteAllBytes(_temp.File("zeros"), new byte[4096]);
        Assert.Throws<IOException>(() => HrlWriter.CreateFromZeroedFile(_temp.File("zeros"), _temp.File("taken.hrl"), Identity, _clock));
        Assert.True(File.Exists(_temp.File("zeros")));
    }

    [Fact]
    public void Appending_allocates_nothing_in_steady_state()
    {
        using HrlWriter writer = HrlWriter.Create(_temp.File("alloc.hrl"), Identity, _clock, new HrlWriterOptions { BufferSize = 64 << 10 });
        byte[] data = new byte[4096];
        new Random(1).NextBytes(data);
        DateTimeOffset time = HrlTestLogs.Start;

        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                writer.Append((i % 1000) * 4096L, data, time);
                if (i % 50 == 49)
                {
                    writer.Commit();
                }
            }
        }

        Run(500);

        // The least of three runs: under a loaded parallel test run the runtime itself (tiering) occasionally allocates
        // a few KiB on the measuring thread, which is not the writer's doing.
        long allocated = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(5000);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 5000 appends");
    }

    [Fact]
    public void Reserved_entries_written_after_their_block_and_in_any_order_read_back_like_appends()
    {
        var random = new Random(1004);
        string path = _temp.File("reserved.hrl");
        var expected = new List<(long Offset, byte[] Data)>();
        using (HrlWriter writer = HrlWriter.Create(path, Identity, _clock, new HrlWriterOptions { MetadataSize = 512 }))
        {
            // 40 entries over several 15-entry blocks: small ones buffered, large ones reserved and written only after
            // the blocks describing them, last first.
            var reserved = new List<(long Position, byte[] Data)>();
            for (int i = 0; i < 40; i++)
            {
                byte[] data = HrlTestLogs.Data(random, i % 3 == 0 ? 1 : 128);
                long offset = 512L * random.Next(0, 1 << 20);
                expected.Add((offset, data));
                if (data.Length == 512)
                {
                    writer.Append(offset, data);
                }
                else
                {
                    reserved.Add((writer.Reserve(offset, data.Length, HrlChecksum.Compute(data)), data));
                }
            }

            writer.Commit();
            reserved.Reverse();
            foreach ((long position, byte[] data) in reserved)
            {
                writer.WriteReserved(position, data);
            }

            writer.Flush();
            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        List<HrlRecord> records = reader.ReadRecords().ToList();
        Assert.Equal(expected.Count, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(expected[i].Offset, records[i].DiskOffset);
            byte[] data = new byte[records[i].Length];
            reader.ReadData(records[i], data);
            Assert.Equal(expected[i].Data, data);
        }
    }

    [Fact]
    public void A_reservation_whose_data_is_never_written_tears_its_batch_and_keeps_the_flushed_prefix()
    {
        string path = _temp.File("torn.hrl");
        byte[] first = HrlTestLogs.Data(new Random(1), 128);
        byte[] second = HrlTestLogs.Data(new Random(2), 128);
        using (HrlWriter writer = HrlWriter.Create(path, Identity, _clock))
        {
            writer.WriteReserved(writer.Reserve(0, first.Length, HrlChecksum.Compute(first)), first);
            writer.Commit();
            writer.Flush();

            long position = writer.Reserve(first.Length, second.Length, HrlChecksum.Compute(second));
            writer.Commit();
            writer.AbandonReserved(position);
            InvalidOperationException failed = Assert.Throws<InvalidOperationException>(writer.Flush);
            Assert.Contains(path, failed.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => writer.Append(0, new byte[512]));
            Assert.Throws<InvalidOperationException>(() => writer.Seal());
        }

        // The block describing the unwritten data is on disk, but a recovery scan never accepts a batch whose data does
        // not match it: the log ends after the first batch.
        using HrlReader reader = HrlReader.Open(path);
        HrlRecoveryResult recovered = reader.Recover();
        HrlRecord record = Assert.Single(reader.ReadRecords(recovered));
        byte[] data = new byte[record.Length];
        reader.ReadData(record, data);
        Assert.Equal(first, data);
    }

    /// <summary>
    /// Tracking that stops disposes the writer while another thread may still be writing a reserved entry's data: that
    /// write then fails, and giving up its reservation must leave the writer disposed, not make it faulted again.
    /// </summary>
    [Fact]
    public void A_reservation_that_fails_after_the_writer_is_disposed_leaves_it_disposed()
    {
        byte[] data = HrlTestLogs.Data(new Random(5), 128);
        HrlWriter writer = HrlWriter.Create(_temp.File("disposed.hrl"), Identity, _clock);
        long position = writer.Reserve(0, data.Length, HrlChecksum.Compute(data));
        writer.Commit();
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.WriteReserved(position, data));
        Assert.Throws<ObjectDisposedException>(writer.Flush);
        Assert.Throws<ObjectDisposedException>(() => writer.Append(0, new byte[512]));
        Assert.False(writer.IsSealed);
        writer.Dispose();
    }

    /// <summary>
    /// A flush waiting for a reserved entry's data when the writer is disposed (tracking stopping) must leave it disposed:
    /// the flush used to go on to fsync the closed handle and, failing, mark the disposed writer faulted.
    /// </summary>
    [Fact]
    public void A_flush_waiting_for_reserved_data_when_the_writer_is_disposed_leaves_it_disposed()
    {
        byte[] data = HrlTestLogs.Data(new Random(6), 128);
        HrlWriter writer = HrlWriter.Create(_temp.File("flush-disposed.hrl"), Identity, _clock);
        long position = writer.Reserve(0, data.Length, HrlChecksum.Compute(data));
        writer.Commit();
        Exception? flushFailure = null;
        var flusher = new Thread(() => flushFailure = Record.Exception(writer.Flush));
        flusher.Start();

        // The flush blocks until the reserved data is written or given up; only then is the writer disposed under it.
        // (Should the flush not have reached its wait yet, it fails on the disposed writer at once: the test still holds.)
        Assert.True(
            SpinWait.SpinUntil(() => (flusher.ThreadState & ThreadState.WaitSleepJoin) != 0, TimeSpan.FromMinutes(1)),
            "the flush never waited for the reserved data");
        writer.Dispose();
        writer.AbandonReserved(position);
        flusher.Join();

        Assert.IsType<ObjectDisposedException>(flushFailure);
        Assert.Throws<ObjectDisposedException>(() => writer.Append(0, new byte[512]));
        Assert.Throws<ObjectDisposedException>(writer.Flush);
    }

    [Fact]
    public async Task A_flush_waits_for_reserved_data_of_committed_batches_only()
    {
        string path = _temp.File("waits.hrl");
        byte[] a = HrlTestLogs.Data(new Random(3), 128);
        byte[] b = HrlTestLogs.Data(new Random(4), 256);
        using (HrlWriter writer = HrlWriter.Create(path, Identity, _clock))
        {
            long first = writer.Reserve(0, a.Length, HrlChecksum.Compute(a));
            writer.Commit();
            long second = writer.Reserve(1 << 20, b.Length, HrlChecksum.Compute(b));

            // A flush started before the committed entry's data is written returns only once it is, and is not held by
            // the later entry, which no committed batch holds yet.
            Task flush = Task.Run(writer.Flush);
            writer.WriteReserved(first, a);
            await flush;
            using (HrlReader early = HrlReader.Open(path))
            {
                Assert.Single(early.ReadRecords(early.Recover()));
            }

            writer.WriteReserved(second, b);
            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        Assert.Equal([0L, 1L << 20], reader.ReadRecords().Select(r => r.DiskOffset).ToArray());
    }
}
