using System.Collections.Concurrent;
using Replication.Core.Disks;
using Replication.Core.IO;
using Replication.Core.Targets;
using Replication.Core.Targets.Local;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Tests.Targets;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Transfer;

public sealed class TransferPipelineTests : IDisposable
{
    private const long Size = 16L << 20;
    private readonly TempDirectory _dir = new();

    private static readonly DiskSynchronizer Sync = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    public void Zero_scanner_splits_into_whole_zero_units_and_data(int unit)
    {
        var random = new Random(unit);
        for (int round = 0; round < 200; round++)
        {
            byte[] data = new byte[random.Next(1, 64) * 512];
            for (int i = random.Next(0, 6); i > 0; i--)
            {
                data[random.Next(data.Length)] = (byte)random.Next(1, 256);
            }

            int position = 0;
            long dataBytes = 0;
            while (position < data.Length)
            {
                int end = ZeroScanner.NextRun(data, position, unit, out bool isZero);
                Assert.True(end > position);
                if (isZero)
                {
                    Assert.False(data.AsSpan(position, end - position).ContainsAnyExcept((byte)0));
                }
                else
                {
                    dataBytes += end - position;
                }

                position = end;
            }

            Assert.Equal(ReplicaTargetContractTests.NonZeroUnits(data, unit), (dataBytes + unit - 1) / unit);
        }
    }

    [Fact]
    public async Task Ranges_must_be_aligned_ordered_and_inside()
    {
        (VirtualDisk source, IReplicaWriter writer) = await SetUpAsync();
        using (source)
        await using (writer)
        {
            DiskExtent[][] bad =
            [
                [new DiskExtent(100, 512)],
                [new DiskExtent(0, 1000)],
                [new DiskExtent(4096, 512), new DiskExtent(0, 512)],
                [new DiskExtent(0, 4096), new DiskExtent(2048, 4096)],
                [new DiskExtent(Size - 512, 1024)],
            ];
            foreach (DiskExtent[] ranges in bad)
            {
                await Assert.ThrowsAsync<ArgumentException>(() => Sync.SeedAsync(source, writer, options: new SyncOptions { Ranges = ranges }));
            }

            SyncResult result = await Sync.SeedAsync(source, writer, options: new SyncOptions { Ranges = [new DiskExtent(0, 1 << 20), new DiskExtent(8 << 20, 512)] });
            Assert.Equal((1 << 20) + 512, result.Transfer!.BytesTotal);
        }
    }

    [Fact]
    public async Task A_cancelled_transfer_resumes_from_its_checkpoint_and_sends_only_the_rest()
    {
        (VirtualDisk source, IReplicaWriter writer) = await SetUpAsync();
        byte[] content = new byte[Size];
        source.Read(0, content);
        string checkpoint = _dir.File("transfer.checkpoint");
        using (source)
        await using (writer)
        {
            using var cts = new CancellationTokenSource();
            var transfer = new TransferOptions
            {
                MaxConcurrency = 2,
                MaxWriteSize = 512 * 1024,
                MaxBytesPerSecond = 8 << 20,
                CheckpointInterval = TimeSpan.Zero,
                ProgressInterval = TimeSpan.Zero,
            };
            var options = new SyncOptions { DestinationKnownZero = true, CheckpointPath = checkpoint, Transfer = transfer };
            var stopHalfWay = new Reporter(p =>
            {
                if (p.BytesCopied >= Size / 2)
                {
                    cts.Cancel();
                }
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Sync.SeedAsync(source, writer, options: options, progress: stopHalfWay, cancellationToken: cts.Token));
            Assert.True(File.Exists(checkpoint));

            var reports = new List<SyncProgress>();
            SyncResult seeded = await Sync.SeedAsync(source, writer, options: options with { Transfer = transfer with { MaxBytesPerSecond = null } }, progress: new Reporter(reports.Add));
            TransferResult resumed = seeded.Transfer!;
            Assert.True(resumed.ResumedFrom >= Size / 2 - (2 * 512 * 1024), $"resumed from {resumed.ResumedFrom}");
            Assert.Equal(ReplicaTargetContractTests.NonZeroUnits(content.AsSpan((int)resumed.ResumedFrom), 4096) * 4096, resumed.BytesSent);
            Assert.False(File.Exists(checkpoint));
            Assert.Equal(Size, reports[^1].BytesCopied);
            Assert.Equal(resumed.BytesSent, reports[^1].BytesSent);
            Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.BytesCopied <= p.Second.BytesCopied));
        }

        IReplicaTarget target = new LocalDirectoryTarget(_dir.File("target"), new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw });
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(content, replica);
    }

    [Fact]
    public async Task A_corrupt_checkpoint_is_rejected_with_a_typed_error()
    {
        (VirtualDisk source, IReplicaWriter writer) = await SetUpAsync();
        string checkpoint = _dir.File("bad.checkpoint");
        await File.WriteAllBytesAsync(checkpoint, new byte[56]);
        using (source)
        await using (writer)
        {
            var ex = await Assert.ThrowsAsync<InvalidRecordException>(() => Sync.SeedAsync(source, writer, options: new SyncOptions { CheckpointPath = checkpoint }));
            Assert.Contains("bad.checkpoint", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_bandwidth_limit_holds_the_transfer_back_on_the_transfer_clock()
    {
        const long Rate = 4 << 20;
        const int WriteSize = 256 << 10;
        const long Burst = WriteSize; // a write, or a twentieth of a second's worth when that is more
        string path = _dir.File("source.img");
        byte[] content = ReplicaTargetContractTests.HalfZeroContent(Size, 52);
        ReplicaTargetContractTests.WriteRaw(path, content);
        using VirtualDisk source = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);

        // Every write is checked when it is made against what the clock allows by then.
        var clock = new TimerWatchingClock();
        DateTimeOffset start = clock.GetUtcNow();
        long written = 0;
        var tooEarly = new ConcurrentQueue<string>();
        var memory = new MemoryDisk(new byte[Size]);
        using var destination = new FaultyDisk(memory)
        {
            OnWrite = (offset, length) =>
            {
                long total = Interlocked.Add(ref written, length);
                TimeSpan at = clock.GetUtcNow() - start;
                if (total > Burst + (Rate * at.TotalSeconds))
                {
                    tooEarly.Enqueue($"{total} bytes written {at.TotalSeconds:0.000} s into the transfer at {Rate} bytes/s");
                }
            },
        };

        Task<SyncResult> run = new DiskSynchronizer(clock).SeedAsync(source, destination, options: new SyncOptions
        {
            DestinationKnownZero = true,
            Transfer = new TransferOptions
            {
                MaxConcurrency = 1,
                MaxWriteSize = WriteSize,
                MaxBytesPerSecond = Rate,
                RequestTimeout = Timeout.InfiniteTimeSpan,
            },
        });

        // Whenever the transfer waits on its clock, the clock moves to the end of that wait: nothing else moves it.
        TransferResult result = (await clock.DriveAsync(run)).Transfer!;
        Assert.True(tooEarly.IsEmpty, string.Join("; ", tooEarly.Take(3)));
        Assert.Equal(content, memory.Bytes);
        Assert.Equal(ReplicaTargetContractTests.NonZeroUnits(content, 4096) * 4096, result.BytesSent);
        TimeSpan taken = clock.GetUtcNow() - start;
        Assert.InRange(taken.TotalSeconds, (result.BytesSent - Burst) / (double)Rate, result.BytesSent / (double)Rate);
    }

    /// <summary>
    /// The first piece is held back until 200 later pieces have been read, so up to hundreds of finished pieces wait
    /// behind it (more than the engine's first ring of pieces holds): every checkpoint must still claim exactly the
    /// prefix that is done, with the data sent and the zeros made below it, and the copy must be whole. (How many have
    /// finished, not only started, when the first piece goes is up to the scheduler, so the test does not assert where
    /// the first checkpoint lands: a loaded machine once put it at 512.)
    /// </summary>
    [Fact]
    public async Task A_slow_first_piece_holds_the_watermark_while_hundreds_finish_behind_it()
    {
        const int Pieces = 400;
        byte[] content = new byte[Pieces * 512];
        new Random(7).NextBytes(content);
        for (int i = 0; i < Pieces; i += 3)
        {
            content.AsSpan(i * 512, 512).Clear();
        }

        var source = new HeldFirstPieceSource(content, releaseAfterReads: 200);
        var sink = new MemoryDisk(new byte[content.Length]);
        var marks = new ConcurrentQueue<CopyWatermark>();
        var engine = new CopyEngine(
            source,
            sink,
            [new CopyRange(0, content.Length, KnownZero: false)],
            content.Length,
            new TransferOptions { MaxConcurrency = 8, MaxWriteSize = 512, ZeroDetectionUnit = 512 },
            new ManualTimeProvider())
        {
            CheckpointBytes = 512,
            SaveCheckpoint = (mark, _) =>
            {
                marks.Enqueue(mark);
                return ValueTask.CompletedTask;
            },
        };

        TransferResult result = await engine.RunAsync(CancellationToken.None);

        Assert.Equal(content, sink.Bytes);
        Assert.NotEmpty(marks);
        long previous = 0;
        foreach (CopyWatermark mark in marks)
        {
            Assert.True(mark.Offset > previous && mark.Offset % 512 == 0 && mark.Offset <= content.Length, $"checkpoint at {mark.Offset} after {previous}");
            long zeroed = 0;
            for (long at = 0; at < mark.Offset; at += 512)
            {
                zeroed += content.AsSpan((int)at, 512).ContainsAnyExcept((byte)0) ? 0 : 512;
            }

            Assert.Equal((mark.Offset - zeroed, zeroed), (mark.BytesSent, mark.BytesZeroed));
            previous = mark.Offset;
        }

        Assert.Equal(content.Length, result.BytesSent + result.BytesZeroed);
    }

    private async Task<(VirtualDisk Source, IReplicaWriter Writer)> SetUpAsync()
    {
        string path = _dir.File("source.img");
        if (!File.Exists(path))
        {
            ReplicaTargetContractTests.WriteRaw(path, ReplicaTargetContractTests.HalfZeroContent(Size, 51));
        }

        var target = new LocalDirectoryTarget(_dir.File("target"), new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw });
        await target.CreateReplicaAsync(Size);
        return (VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess), await target.AcquireWriterAsync());
    }

    /// <summary>Bytes as a copy source whose read at offset 0 waits until <c>releaseAfterReads</c> other reads were made.</summary>
    private sealed class HeldFirstPieceSource(byte[] content, int releaseAfterReads) : ICopySource
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _reads;

        public string Location => "held source";

        public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (offset == 0)
            {
                await _release.Task.WaitAsync(cancellationToken);
            }
            else if (Interlocked.Increment(ref _reads) == releaseAfterReads)
            {
                _release.TrySetResult();
            }

            content.AsMemory((int)offset, destination.Length).CopyTo(destination);
        }
    }

    private sealed class Reporter(Action<SyncProgress> report) : IProgress<SyncProgress>
    {
        public void Report(SyncProgress value) => report(value);
    }
}
