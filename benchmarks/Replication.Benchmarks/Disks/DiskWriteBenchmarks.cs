using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>
/// Writes per format into an already-allocated 256 MiB disk (steady state, no allocation); raw is the baseline. No
/// flush inside the measurement: this is the format's CPU and syscall cost, not the device's.
/// </summary>
[MemoryDiagnoser]
public class DiskWriteBenchmarks : DiskIoBenchmark
{
    protected override bool OpenReadOnly => false;

    protected override void Run(VirtualDisk disk)
    {
        foreach (long offset in Offsets)
        {
            disk.Write(offset, Buffer);
        }
    }
}
