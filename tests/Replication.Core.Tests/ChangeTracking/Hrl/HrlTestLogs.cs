using Replication.Core.ChangeTracking.Hrl;

using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>One write the test appended, as the reader must give it back.</summary>
internal sealed record WrittenRecord(long DiskOffset, byte[] Data, DateTimeOffset Time);

/// <summary>What a generated log holds.</summary>
internal sealed record WrittenLog(
    string Path,
    HrlLogIdentity Identity,
    HrlWriterOptions Options,
    List<WrittenRecord> Committed,
    List<int> CommittedBatchSizes,
    HrlFileHeader? SealedHeader,
    DateTimeOffset CreatedAt)
{
    public int ExpectedBlockCount =>
        Math.Max(
            SealedHeader is null ? 0 : 1,
            CommittedBatchSizes.Sum(n => (n + Options.EntriesPerMetadataBlock - 1) / Options.EntriesPerMetadataBlock));
}

/// <summary>Writes seeded random logs with <see cref="HrlWriter"/>.</summary>
internal static class HrlTestLogs
{
    public static readonly DateTimeOffset Start = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    /// <summary>Random data for a write of <paramref name="sectors"/> sectors.</summary>
    public static byte[] Data(Random random, int sectors)
    {
        byte[] data = new byte[sectors * 512];
        random.NextBytes(data);
        return data;
    }

    /// <summary>
    /// Appends <paramref name="batchSizes"/>.Length batches (each committed, some flushed), then optionally an
    /// uncommitted batch, then seals or not.
    /// </summary>
    public static WrittenLog Write(
        string path,
        Random random,
        HrlWriterOptions options,
        int[] batchSizes,
        bool seal,
        int uncommittedTail = 0,
        int maxSectors = 8,
        int largeEvery = 0,
        int largeSectors = 64)
    {
        var clock = new ManualTimeProvider(Start);
        var identity = new HrlLogIdentity(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var committed = new List<WrittenRecord>();
        using HrlWriter writer = HrlWriter.Create(path, identity, clock, options);
        int appended = 0;
        foreach (int size in batchSizes)
        {
            for (int i = 0; i < size; i++)
            {
                committed.Add(AppendOne(writer, random, clock, ref appended, maxSectors, largeEvery, largeSectors));
            }

            writer.Commit();
            if (random.Next(2) == 0)
            {
                writer.Flush();
            }
        }

        for (int i = 0; i < uncommittedTail; i++)
        {
            _ = AppendOne(writer, random, clock, ref appended, maxSectors, largeEvery, largeSectors);
        }

        HrlFileHeader? sealedHeader = null;
        if (seal)
        {
            clock.Now += TimeSpan.FromSeconds(3);
            sealedHeader = writer.Seal();
        }

        return new WrittenLog(path, identity, options, committed, batchSizes.Where(n => n > 0).ToList(), sealedHeader, Start);
    }

    private static WrittenRecord AppendOne(HrlWriter writer, Random random, ManualTimeProvider clock, ref int appended, int maxSectors, int largeEvery, int largeSectors)
    {
        appended++;
        int sectors = largeEvery > 0 && appended % largeEvery == 0 ? largeSectors : random.Next(1, maxSectors + 1);
        byte[] data = Data(random, sectors);
        long offset = random.NextInt64(0, 1L << 40) / 512 * 512;
        clock.Now += TimeSpan.FromMilliseconds(random.Next(0, 2500));
        DateTimeOffset time = clock.Now;
        switch (random.Next(3))
        {
            case 0:
                writer.Append(offset, data, time);
                break;
            case 1:
                writer.Append(offset, data);
                break;
            default:
                // The entry now, its data from the caller's buffer after (as a tracked disk does for large writes).
                writer.WriteReserved(writer.Reserve(offset, data.Length, HrlChecksum.Compute(data), time), data);
                break;
        }

        // The log keeps whole seconds.
        return new WrittenRecord(offset, data, HrlTimestamp.ToDateTimeOffset(HrlTimestamp.FromDateTimeOffset(time)));
    }

    /// <summary>Asserts that <paramref name="records"/> (read back from <paramref name="reader"/>) are exactly <paramref name="expected"/>.</summary>
    public static void AssertRecords(HrlReader reader, IReadOnlyList<WrittenRecord> expected, IEnumerable<HrlRecord> records)
    {
        List<HrlRecord> actual = records.ToList();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < actual.Count; i++)
        {
            HrlRecord record = actual[i];
            Assert.Equal(i, record.Index);
            Assert.Equal(expected[i].DiskOffset, record.DiskOffset);
            Assert.Equal(expected[i].Data.Length, record.Length);
            Assert.Equal(expected[i].Time, record.Timestamp);
            Assert.Equal(HrlChecksum.Compute(expected[i].Data), record.DataChecksum);
            byte[] data = new byte[record.Length];
            reader.ReadData(record, data);
            Assert.Equal(expected[i].Data, data);
        }
    }
}
