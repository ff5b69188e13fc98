using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.Disks;

/// <summary>
/// PERFORMANCE.md P2 in process: converting a 256 MiB dynamic VHDX (2 MiB blocks, every other 32 MiB run random, the
/// rest never written) to a raw image, flushed before it returns. The output is deleted after every iteration (not
/// measured).
/// </summary>
[MemoryDiagnoser]
public class ConvertBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-bench-convert-" + Guid.NewGuid().ToString("N"));
    private string _source = null!;
    private string _output = null!;

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_dir);
        _source = Path.Combine(_dir, "source.vhdx");
        _output = Path.Combine(_dir, "out.img");
        var random = new Random(5);
        byte[] chunk = new byte[1 << 20];
        using VirtualDisk disk = VirtualDisk.Create(_source, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = Size });
        for (long offset = 0; offset < Size; offset += 64L << 20)
        {
            for (long i = 0; i < Math.Min(32L << 20, Size - offset); i += chunk.Length)
            {
                random.NextBytes(chunk);
                disk.Write(offset + i, chunk);
            }
        }

        disk.Flush();
    }

    [IterationCleanup]
    public void DeleteOutput() => File.Delete(_output);

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark]
    public async Task<long> VhdxToRaw()
    {
        using VirtualDisk source = VirtualDisk.Open(_source, DiskOpenOptions.ReadOnlyAccess);
        TransferResult result = await new DiskConverter().ConvertAsync(
            source, _output, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed });
        return result.BytesSent;
    }
}
