using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>
/// Writes per format into an already-allocated 256 MiB disk (steady state, no allocation); raw is the baseline. No
/// flush inside the measurement: this is the format's CPU and syscall cost, not the device's.
/// </summary>
[MemoryDiagnoser]
public class DiskWriteBenchmarks
{
    private const long Size = 256L << 20;
    private DiskFixture _fixture = null!;
    private readonly Dictionary<string, VirtualDisk> _disks = [];
    private byte[] _buffer = null!;
    private long[] _offsets = null!;

    [Params("sequential", "random")]
    public string Pattern { get; set; } = "sequential";

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DiskFixture(Size, fill: true);
        foreach (string kind in DiskFixture.Kinds)
        {
            _disks[kind] = VirtualDisk.Open(_fixture.PathOf(kind));
        }

        int ioSize = Pattern == "sequential" ? 1 << 20 : 4096;
        _buffer = new byte[ioSize];
        new Random(3).NextBytes(_buffer);
        var random = new Random(4);
        _offsets = Pattern == "sequential"
            ? [.. Enumerable.Range(0, (int)(Size / ioSize)).Select(i => (long)i * ioSize)]
            : [.. Enumerable.Range(0, 16384).Select(_ => random.NextInt64(0, Size / 4096) * 4096)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (VirtualDisk disk in _disks.Values)
        {
            disk.Dispose();
        }

        _fixture.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Raw() => WriteAll("raw");

    [Benchmark]
    public void VhdFixed() => WriteAll("vhd-fixed");

    [Benchmark]
    public void VhdDynamic() => WriteAll("vhd-dynamic");

    [Benchmark]
    public void VhdxFixed() => WriteAll("vhdx-fixed");

    [Benchmark]
    public void VhdxDynamic() => WriteAll("vhdx-dynamic");

    private void WriteAll(string kind)
    {
        VirtualDisk disk = _disks[kind];
        foreach (long offset in _offsets)
        {
            disk.Write(offset, _buffer);
        }
    }
}
