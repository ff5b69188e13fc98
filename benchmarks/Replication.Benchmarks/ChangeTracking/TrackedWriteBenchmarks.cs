using BenchmarkDotNet.Attributes;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;

namespace Replication.Benchmarks.ChangeTracking;

/// <summary>
/// PERFORMANCE.md P4: 64 KiB writes with a flush every 64 writes, through a TrackedDisk and to the bare disk (the
/// baseline). Each operation writes 64 MiB (1024 writes, 16 flushes) into an allocated 256 MiB raw disk. The tracked
/// disk writes every byte twice (log and disk) and fsyncs two files per flush, so 0.5 is the limit of the ratio.
/// </summary>
[MemoryDiagnoser]
public class TrackedWriteBenchmarks
{
    private const long Size = 256L << 20;
    private const int WriteSize = 64 << 10;
    private const int Writes = 1024;
    private const int FlushEvery = 64;
    private string _dir = null!;
    private VirtualDisk _bare = null!;
    private TrackedDisk _tracked = null!;
    private byte[] _data = null!;
    private long[] _offsets = null!;

    [Params("sequential", "random")]
    public string Pattern { get; set; } = "sequential";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "repl-bench-track-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _data = new byte[WriteSize];
        new Random(1).NextBytes(_data);
        _bare = Filled("bare.img");
        _tracked = TrackedDisk.Open(Filled("tracked.img"), Path.Combine(_dir, "logs"));
        var random = new Random(2);
        _offsets = Pattern == "sequential"
            ? [.. Enumerable.Range(0, Writes).Select(i => (long)i * WriteSize)]
            : [.. Enumerable.Range(0, Writes).Select(_ => random.NextInt64(0, Size / WriteSize) * WriteSize)];
    }

    [IterationCleanup]
    public void ReleaseLogs()
    {
        // Not measured: keep the log folder from growing across iterations.
        SealedLog sealedLog = _tracked.RotateAsync().GetAwaiter().GetResult();
        _tracked.ReleaseAsync(sealedLog.SequenceNumber).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tracked.Dispose();
        _bare.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public void Bare() => Run(_bare);

    [Benchmark]
    public void Tracked() => Run(_tracked);

    /// <summary>The asynchronous path (WriteAsync, FlushAsync): its allocation column is the one to read.</summary>
    [Benchmark]
    public async Task TrackedAsync()
    {
        for (int i = 0; i < Writes; i++)
        {
            await _tracked.WriteAsync(_offsets[i], _data);
            if (i % FlushEvery == FlushEvery - 1)
            {
                await _tracked.FlushAsync();
            }
        }
    }

    private void Run(IVirtualDisk disk)
    {
        for (int i = 0; i < Writes; i++)
        {
            disk.Write(_offsets[i], _data);
            if (i % FlushEvery == FlushEvery - 1)
            {
                disk.Flush();
            }
        }
    }

    private VirtualDisk Filled(string name)
    {
        string path = Path.Combine(_dir, name);
        VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size });
        byte[] chunk = new byte[1 << 20];
        new Random(3).NextBytes(chunk);
        for (long offset = 0; offset < Size; offset += chunk.Length)
        {
            disk.Write(offset, chunk);
        }

        disk.Flush();
        return disk;
    }
}
