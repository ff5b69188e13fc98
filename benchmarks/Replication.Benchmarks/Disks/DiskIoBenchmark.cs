using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>
/// Shared set-up of the per-format I/O suites: one 256 MiB disk of each format filled with the same data, and the
/// offsets of the pattern (1 MiB sequential, or 4 KiB at random 4 KiB-aligned offsets). Raw is every suite's baseline.
/// </summary>
public abstract class DiskIoBenchmark
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private DiskFixture _fixture = null!;
    private readonly Dictionary<string, VirtualDisk> _disks = [];

    /// <summary>sequential: 1 MiB front to back; random: 4 KiB at random aligned offsets.</summary>
    [Params("sequential", "random")]
    public string Pattern { get; set; } = "sequential";

    protected byte[] Buffer { get; private set; } = null!;

    protected long[] Offsets { get; private set; } = null!;

    protected abstract bool OpenReadOnly { get; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new DiskFixture(Size, fill: true);
        foreach (string kind in DiskFixture.Kinds)
        {
            _disks[kind] = VirtualDisk.Open(_fixture.PathOf(kind), OpenReadOnly ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);
        }

        int ioSize = Pattern == "sequential" ? 1 << 20 : 4096;
        Buffer = new byte[ioSize];
        new Random(3).NextBytes(Buffer);
        var random = new Random(4);
        Offsets = Pattern == "sequential"
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
    public void Raw() => Run(_disks["raw"]);

    [Benchmark]
    public void VhdFixed() => Run(_disks["vhd-fixed"]);

    [Benchmark]
    public void VhdDynamic() => Run(_disks["vhd-dynamic"]);

    [Benchmark]
    public void VhdxFixed() => Run(_disks["vhdx-fixed"]);

    [Benchmark]
    public void VhdxDynamic() => Run(_disks["vhdx-dynamic"]);

    /// <summary>Does the suite's I/O on one disk at every offset.</summary>
    protected abstract void Run(VirtualDisk disk);
}
