using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking;

public sealed class CoalescedChangesTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start);

    public void Dispose() => _temp.Dispose();

    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (int seed = 1; seed <= 25; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    /// <summary>
    /// Random overlapping writes over a small space, spread over one to three logs: the extents must be exactly the
    /// written bytes, each holding the last write's data, ascending, disjoint, and merged wherever the file allows.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void The_last_writer_wins_per_byte_across_logs(int seed)
    {
        var random = new Random(seed);
        const int Space = 256 * 1024;
        byte[] model = new byte[Space];
        bool[] written = new bool[Space];
        var paths = new List<string>();
        int logCount = random.Next(1, 4);
        Guid previous = Guid.Empty;
        for (int l = 0; l < logCount; l++)
        {
            string path = _temp.File($"{seed}-{l}.hrl");
            var identity = new HrlLogIdentity(Guid.NewGuid(), previous, Guid.Empty);
            previous = identity.UniqueId;
            using HrlWriter writer = HrlWriter.Create(path, identity, _clock, new HrlWriterOptions { MetadataSize = 1024, BufferSize = 8192 });
            int records = random.Next(0, 120);
            long sequentialNext = random.Next(0, Space / 512) * 512L;
            for (int i = 0; i < records; i++)
            {
                int sectors = random.Next(1, 17);
                long offset = random.Next(3) == 0 && sequentialNext + (sectors * 512) <= Space
                    ? sequentialNext
                    : random.Next(0, (Space / 512) - sectors + 1) * 512L;
                byte[] data = HrlTestLogs.Data(random, sectors);
                writer.Append(offset, data);
                data.CopyTo(model, offset);
                written.AsSpan((int)offset, data.Length).Fill(true);
                sequentialNext = offset + data.Length;
                if (random.Next(10) == 0)
                {
                    writer.Commit();
                }
            }

            writer.Seal();
            paths.Add(path);
        }

        HrlReader[] readers = [.. paths.Select(HrlReader.Open)];
        try
        {
            using CoalescedChanges changes = CoalescedChanges.Build(readers);
            IReadOnlyList<CoalescedExtent> extents = changes.Extents;
            long covered = 0;
            for (int i = 0; i < extents.Count; i++)
            {
                CoalescedExtent extent = extents[i];
                Assert.True(extent.Length > 0 && extent.DiskOffset % 512 == 0 && extent.Length % 512 == 0);
                if (i > 0)
                {
                    CoalescedExtent before = extents[i - 1];
                    Assert.True(before.End <= extent.DiskOffset, "extents overlap or are out of order");
                    bool mergeable = before.End == extent.DiskOffset && before.LogIndex == extent.LogIndex && before.FileOffset + before.Length == extent.FileOffset;
                    Assert.False(mergeable, $"extents {i - 1} and {i} should have been merged");
                }

                byte[] data = new byte[extent.Length];
                changes.ReadData(extent, 0, data);
                Assert.True(data.AsSpan().SequenceEqual(model.AsSpan((int)extent.DiskOffset, (int)extent.Length)), $"extent {i} at {extent.DiskOffset} holds other data than the last write");
                Assert.DoesNotContain(false, written.AsSpan((int)extent.DiskOffset, (int)extent.Length).ToArray());
                covered += extent.Length;
            }

            Assert.Equal(written.Count(w => w), covered);
            Assert.Equal(covered, changes.Bytes);
            Assert.Equal(ChangeTrackingStateMerge(extents), changes.GetChangedRanges().ToList());
        }
        finally
        {
            foreach (HrlReader reader in readers)
            {
                reader.Dispose();
            }
        }
    }

    [Fact]
    public void The_same_4_KiB_written_a_hundred_times_is_one_extent_read_once()
    {
        string path = _temp.File("hot.hrl");
        byte[] last = [];
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock))
        {
            for (int i = 0; i < 100; i++)
            {
                last = TrackingTestSupport.Random(i, 4096);
                writer.Append(1 << 20, last);
            }

            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        using CoalescedChanges changes = CoalescedChanges.Build([reader]);
        CoalescedExtent extent = Assert.Single(changes.Extents);
        Assert.Equal(new DiskExtent(1 << 20, 4096), new DiskExtent(extent.DiskOffset, extent.Length));
        Assert.Equal(100, changes.RecordCount);
        Assert.Equal(409_600, changes.LoggedBytes);
        Assert.Equal(4096, changes.Bytes);
        byte[] data = new byte[4096];
        changes.ReadData(extent, 0, data);
        Assert.Equal(last, data);
    }

    [Fact]
    public void A_sequential_stream_logged_in_order_is_one_extent_per_batch()
    {
        string path = _temp.File("stream.hrl");
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock))
        {
            for (int i = 0; i < 100; i++)
            {
                writer.Append(i * 8192L, new byte[8192]);
            }

            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        using CoalescedChanges changes = CoalescedChanges.Build([reader]);
        Assert.Single(changes.Extents);
        Assert.Equal(new DiskExtent(0, 819_200), Assert.Single(changes.GetChangedRanges()));
    }

    [Fact]
    public void A_disposed_result_cannot_be_read_even_through_a_list_or_enumeration_taken_before()
    {
        string path = _temp.File("disposed.hrl");
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock))
        {
            writer.Append(0, TrackingTestSupport.Random(1, 4096));
            writer.Append(1 << 20, TrackingTestSupport.Random(2, 4096));
            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        CoalescedChanges changes = CoalescedChanges.Build([reader]);
        IReadOnlyList<CoalescedExtent> extents = changes.Extents;
        CoalescedExtent first = extents[0];
        using IEnumerator<DiskExtent> ranges = changes.GetChangedRanges().GetEnumerator();
        Assert.True(ranges.MoveNext());
        Assert.Equal(new DiskExtent(0, 4096), ranges.Current);

        changes.Dispose();
        changes.Dispose();

        Assert.Throws<ObjectDisposedException>(() => changes.Extents);
        Assert.Throws<ObjectDisposedException>(() => extents.Count);
        Assert.Throws<ObjectDisposedException>(() => extents[0]);
        Assert.Throws<ObjectDisposedException>(() => extents.ToList());
        Assert.Throws<ObjectDisposedException>(() => changes.GetChangedRanges());
        Assert.Throws<ObjectDisposedException>(() => ranges.MoveNext());
        Assert.Throws<ObjectDisposedException>(() => changes.ReadData(first, 0, new byte[512]));
        Assert.Equal(2, changes.RecordCount);
        Assert.Equal(8192, changes.Bytes);
    }

    [Fact]
    public void A_cancelled_build_throws_and_a_later_build_of_the_same_log_is_whole()
    {
        string path = _temp.File("cancelled.hrl");
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock))
        {
            for (int i = 0; i < 64; i++)
            {
                writer.Append(i * 8192L, TrackingTestSupport.Random(i, 4096));
            }

            writer.Seal();
        }

        using HrlReader reader = HrlReader.Open(path);
        Assert.ThrowsAny<OperationCanceledException>(() => CoalescedChanges.Build([reader], new CancellationToken(canceled: true)));
        using CoalescedChanges changes = CoalescedChanges.Build([reader]);
        Assert.Equal(64, changes.Extents.Count);
        Assert.Equal(64 * 4096, changes.Bytes);
    }

    [Fact]
    public void An_unsealed_log_is_refused()
    {
        string path = _temp.File("open.hrl");
        using HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), _clock);
        writer.Append(0, new byte[512]);
        writer.Commit();
        using HrlReader reader = HrlReader.Open(path);
        Assert.Throws<InvalidLogFormatException>(() => CoalescedChanges.Build([reader]));
    }

    private static List<DiskExtent> ChangeTrackingStateMerge(IEnumerable<CoalescedExtent> extents)
    {
        var merged = new List<DiskExtent>();
        foreach (CoalescedExtent e in extents)
        {
            if (merged.Count > 0 && merged[^1].End == e.DiskOffset)
            {
                merged[^1] = merged[^1] with { Length = merged[^1].Length + e.Length };
            }
            else
            {
                merged.Add(new DiskExtent(e.DiskOffset, e.Length));
            }
        }

        return merged;
    }
}
