using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>A log read once into memory (the log applier's verified staging buffer) reads back exactly as from its file.</summary>
public sealed class HrlReaderStagedTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(1, 512)]
    [InlineData(2, 4096)]
    [InlineData(3, 1024)]
    public async Task A_staged_log_reads_back_its_records_data_and_recovery_exactly(int seed, int metadataSize)
    {
        // Records up to 6 MiB cross the 4 MiB segments of the staged bytes.
        var options = new HrlWriterOptions { MetadataSize = metadataSize };
        WrittenLog log = HrlTestLogs.Write(_temp.File("log.hrl"), new Random(seed), options, [30, 0, 7, 200, 1], seal: true, largeEvery: 50, largeSectors: 12_288);
        HrlSidecar sidecar = HrlIntegrity.WriteSidecar(log.Path);

        using HrlReader staged = HrlReader.TryOpenStaged(log.Path, long.MaxValue, sidecar, CancellationToken.None)!;
        using HrlReader file = HrlReader.Open(log.Path);
        Assert.Equal(file.Header, staged.Header);
        Assert.Equal(file.FileLength, staged.FileLength);

        // Enumerated twice: the second enumeration must not read a table the first gave back to the pool.
        IEnumerable<HrlRecord> records = staged.ReadRecords();
        HrlTestLogs.AssertRecords(staged, log.Committed, records);
        HrlTestLogs.AssertRecords(staged, log.Committed, records);
        Assert.Equal(file.ReadRecords().ToList(), records.ToList());

        HrlRecord last = records.Last();
        byte[] fromFile = new byte[last.Length];
        byte[] fromMemory = new byte[last.Length];
        await file.ReadDataAsync(last, fromFile);
        await staged.ReadDataAsync(last, fromMemory);
        Assert.Equal(fromFile, fromMemory);
        Assert.Equal(file.VerifyData(), staged.VerifyData());
        Assert.Equal(file.Recover(), staged.Recover());

        // Once staged, the file is not read again: the reader keeps giving the verified bytes.
        File.WriteAllBytes(log.Path, new byte[file.FileLength]);
        HrlTestLogs.AssertRecords(staged, log.Committed, staged.ReadRecords());
    }

    [Fact]
    public void A_log_longer_than_the_limit_is_not_staged_and_a_disagreeing_one_is_refused()
    {
        WrittenLog log = HrlTestLogs.Write(_temp.File("log.hrl"), new Random(4), HrlWriterOptions.Default, [20, 5], seal: true);
        HrlSidecar sidecar = HrlIntegrity.WriteSidecar(log.Path);
        long length = new FileInfo(log.Path).Length;

        Assert.Null(HrlReader.TryOpenStaged(log.Path, length - 1, sidecar, CancellationToken.None));
        using (HrlReader? exact = HrlReader.TryOpenStaged(log.Path, length, null, CancellationToken.None))
        {
            Assert.NotNull(exact);
            Assert.Equal(log.Committed.Count, exact.ReadRecords().Count());
        }

        // The sidecar's length is checked before any byte is read or any memory is taken, whatever the limit.
        byte[] bytes = File.ReadAllBytes(log.Path);
        File.WriteAllBytes(log.Path, bytes[..^512]);
        Assert.Equal("length", Assert.Throws<InvalidLogFormatException>(() => HrlReader.TryOpenStaged(log.Path, 0, sidecar, CancellationToken.None)).Field);

        bytes[^100] ^= 1;
        File.WriteAllBytes(log.Path, bytes);
        Assert.Equal("XxHash128", Assert.Throws<InvalidLogFormatException>(() => HrlReader.TryOpenStaged(log.Path, long.MaxValue, sidecar, CancellationToken.None)).Field);

        ReplicationException missing = Assert.Throws<ReplicationException>(() => HrlReader.TryOpenStaged(_temp.File("none.hrl"), long.MaxValue, null, CancellationToken.None));
        Assert.Equal(ReplicationErrorCode.NotFound, missing.Code);
    }
}
