using BenchmarkDotNet.Attributes;
using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Diff;

/// <summary>
/// Comparing the manifests of a 1 GiB pair (P1's shape: 1% of 64 KiB regions touched by a 4 KiB write): the coarse
/// pass over 1024 blocks, then fine hashes read and compared for the ~150 coarse blocks that differ.
/// </summary>
[MemoryDiagnoser]
public class DiffBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(1L << 30);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-bench-" + Guid.NewGuid().ToString("N"));
    private BlockManifest _source = null!;
    private BlockManifest _target = null!;

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_dir);
        string source = Path.Combine(_dir, "source.img");
        string target = Path.Combine(_dir, "target.img");
        var random = new Random(2);
        byte[] chunk = new byte[1 << 20];
        using (FileStream s = File.Create(source))
        using (FileStream t = File.Create(target))
        {
            for (long written = 0; written < Size; written += chunk.Length)
            {
                random.NextBytes(chunk);
                s.Write(chunk);
                t.Write(chunk);
            }
        }

        using (VirtualDisk disk = VirtualDisk.Open(source))
        {
            byte[] page = new byte[4096];
            foreach (int region in Enumerable.Range(0, (int)(Size / 65536)).OrderBy(_ => random.Next()).Take((int)(Size / 65536 / 100)))
            {
                random.NextBytes(page);
                disk.Write((region * 65536L) + (random.Next(16) * 4096L), page);
            }
        }

        _source = Build(source, "source.manifest");
        _target = Build(target, "target.manifest");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _source.Dispose();
        _target.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark]
    public long Compare() => BlockDiff.Compare(_source, _target).ChangedBytes;

    private BlockManifest Build(string disk, string name)
    {
        using VirtualDisk d = VirtualDisk.Open(disk, DiskOpenOptions.ReadOnlyAccess);
        return new ManifestBuilder().BuildAsync(d, Path.Combine(_dir, name)).GetAwaiter().GetResult().Manifest;
    }
}
