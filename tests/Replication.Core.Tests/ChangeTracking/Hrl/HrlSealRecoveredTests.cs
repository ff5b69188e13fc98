using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>Sealing a log left open by a crash: the torn tail is cut and the prefix becomes a normal sealed log.</summary>
public sealed class HrlSealRecoveredTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ManualTimeProvider _clock = new(HrlTestLogs.Start.AddHours(1));

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 3)]
    [InlineData(3, 7)]
    public void The_valid_prefix_becomes_a_sealed_log_with_exactly_the_committed_records(int seed, int tail)
    {
        var options = new HrlWriterOptions { MetadataSize = 1024, BufferSize = 4096 };
        WrittenLog log = HrlTestLogs.Write(_temp.File($"{seed}.hrl"), new Random(seed), options, [5, 30, 2], seal: false, uncommittedTail: tail, largeEvery: 4, largeSectors: 20);
        long before = new FileInfo(log.Path).Length;

        HrlFileHeader header = HrlWriter.SealRecovered(log.Path, _clock, out HrlRecoveryResult recovered);

        Assert.Equal(before, recovered.FileLength);
        long length = new FileInfo(log.Path).Length;
        Assert.Equal(recovered.ValidLength, length);
        Assert.Equal((ulong)length, header.EolLocation);
        Assert.Equal((ulong)log.Committed.Count, header.TotalMetadataEntries);
        Assert.Equal(_clock.Now, header.LastModifiedTime);
        using HrlReader reader = HrlReader.Open(log.Path);
        Assert.True(reader.IsClosedCleanly);
        Assert.Equal(header, reader.Header);
        HrlTestLogs.AssertRecords(reader, log.Committed, reader.ReadRecords());
    }

    [Fact]
    public void A_log_without_a_complete_batch_gets_one_empty_block()
    {
        WrittenLog log = HrlTestLogs.Write(_temp.File("empty.hrl"), new Random(9), new HrlWriterOptions { BufferSize = 4096 }, [], seal: false, uncommittedTail: 4, largeEvery: 1, largeSectors: 16);
        Assert.True(new FileInfo(log.Path).Length > 4096);

        HrlFileHeader header = HrlWriter.SealRecovered(log.Path, _clock, out HrlRecoveryResult recovered);

        Assert.Equal(0, recovered.RecordCount);
        Assert.Equal(4096UL + 4096UL, header.EolLocation);
        using HrlReader reader = HrlReader.Open(log.Path);
        Assert.Empty(reader.ReadRecords());
    }

    [Fact]
    public void Sealing_again_changes_nothing()
    {
        WrittenLog log = HrlTestLogs.Write(_temp.File("again.hrl"), new Random(3), HrlWriterOptions.Default, [3, 4], seal: false, uncommittedTail: 2);
        HrlFileHeader first = HrlWriter.SealRecovered(log.Path, _clock, out _);
        byte[] bytes = File.ReadAllBytes(log.Path);
        _clock.Now += TimeSpan.FromMinutes(5);

        HrlFileHeader second = HrlWriter.SealRecovered(log.Path, _clock, out HrlRecoveryResult recovered);

        Assert.Equal(first, second);
        Assert.Equal(7, recovered.RecordCount);
        Assert.Equal(bytes, File.ReadAllBytes(log.Path));
    }

    [Fact]
    public void A_file_that_is_not_a_log_is_refused_untouched()
    {
        string path = _temp.File("junk.hrl");
        byte[] junk = HrlTestLogs.Data(new Random(1), 10);
        File.WriteAllBytes(path, junk);
        Assert.Throws<InvalidLogFormatException>(() => HrlWriter.SealRecovered(path, _clock, out _));
        Assert.Equal(junk, File.ReadAllBytes(path));
    }
}
