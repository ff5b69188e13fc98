using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// The transfer pipeline against an in-memory target, seeding a 256 MiB half-zero image (in page cache): the obvious
/// loop (read 4 MiB, send 4 MiB, every chunk) is the baseline. The allocation column divided by 64 (4 MiB chunks in
/// 256 MiB) is P10's figure for the pipeline itself.
/// </summary>
[MemoryDiagnoser]
public class TransferBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private string _path = null!;
    private VirtualDisk _disk = null!;
    private byte[] _buffer = null!;

    [Params(1, 8)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), "repl-bench-transfer-" + Guid.NewGuid().ToString("N") + ".img");
        HalfZeroImage.Create(_path, Size);
        _disk = VirtualDisk.Open(_path, DiskOpenOptions.ReadOnlyAccess);
        _buffer = new byte[4 << 20];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _disk.Dispose();
        File.Delete(_path);
    }

    [Benchmark(Baseline = true)]
    public async Task<long> SequentialLoop()
    {
        var writer = new NullReplicaWriter(Size);
        for (long offset = 0; offset < Size; offset += _buffer.Length)
        {
            await _disk.ReadAsync(offset, _buffer);
            await writer.WriteAsync(offset, _buffer);
        }

        return writer.BytesWritten;
    }

    [Benchmark]
    public async Task<long> Pipeline()
    {
        var writer = new NullReplicaWriter(Size);
        SyncResult result = await new DiskSynchronizer().SeedAsync(
            _disk, writer, options: new SyncOptions { Transfer = new TransferOptions { MaxConcurrency = Concurrency }, DestinationKnownZero = true });
        return result.DataBytesSent;
    }
}
