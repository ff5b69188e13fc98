using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>Reads of a 256 MiB disk (in page cache) per format; raw is the baseline, so the ratio is the format's cost.</summary>
[MemoryDiagnoser]
public class DiskReadBenchmarks
{
    private const long Size = 256L << 20;
    private DiskFixture _fixture = null!;
    private readonly Dictionary<string, VirtualDisk> _disks = [];
    private byte[] _buffer = null!;
    private long[] _offsets = null!;

    /// <summary>sequential: 1 MiB reads front to back; random: 4 KiB reads at random 4 KiB-aligned offsets.</summary>
    [Params("sequential", "random")]
    public string Pattern { get; set; } = "sequential";

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DiskFixture(Size, fill: true);
        foreach (string kind in DiskFixture.Kinds)
        {
            _disks[kind] = VirtualDisk.Open(_fixture.PathOf(kind), DiskOpenOptions.ReadOnlyAccess);
        }

        int ioSize = Pattern == "sequential" ? 1 << 20 : 4096;
        _buffer = new byte[ioSize];
        var random = new Random(2);
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
    public void Raw() => ReadAll("raw");

    [Benchmark]
    public void VhdFixed() => ReadAll("vhd-fixed");

    [Benchmark]
    public void VhdDynamic() => ReadAll("vhd-dynamic");

    [Benchmark]
    public void VhdxFixed() => ReadAll("vhdx-fixed");

    [Benchmark]
    public void VhdxDynamic() => ReadAll("vhdx-dynamic");

    private void ReadAll(string kind)
    {
        VirtualDisk disk = _disks[kind];
        foreach (long offset in _offsets)
        {
            disk.Read(offset, _buffer);
        }
    }
}
