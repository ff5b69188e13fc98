using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>Reads of a 256 MiB disk (in page cache) per format; the ratio to raw is the format's cost.</summary>
[MemoryDiagnoser]
public class DiskReadBenchmarks : DiskIoBenchmark
{
    protected override bool OpenReadOnly => true;

    protected override void Run(VirtualDisk disk)
    {
        foreach (long offset in Offsets)
        {
            disk.Read(offset, Buffer);
        }
    }
}
