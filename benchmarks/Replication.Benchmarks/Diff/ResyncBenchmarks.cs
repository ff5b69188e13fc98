using BenchmarkDotNet.Attributes;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.Diff;

/// <summary>
/// Resynchronising a 256 MiB raw pair (P1's shape: 1% of 64 KiB regions touched by a 4 KiB write on the source) when
/// the target's stored manifest is still good: hash the source, verify the stored target manifest on a 1% sample,
/// compare, copy the differing fine blocks, flush, store the new manifest. The target is restored from a pristine copy
/// before every iteration (not measured), so each iteration does the same work.
/// </summary>
[MemoryDiagnoser]
public class ResyncBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-bench-resync-" + Guid.NewGuid().ToString("N"));
    private string _source = null!;
    private string _target = null!;
    private string _pristine = null!;
    private string _manifest = null!;
    private string _pristineManifest = null!;

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_dir);
        _source = Path.Combine(_dir, "source.img");
        _target = Path.Combine(_dir, "target.img");
        _pristine = Path.Combine(_dir, "pristine.img");
        _manifest = Path.Combine(_dir, "target.manifest");
        _pristineManifest = Path.Combine(_dir, "pristine.manifest");
        var random = new Random(3);
        byte[] chunk = new byte[1 << 20];
        using (FileStream s = File.Create(_source))
        using (FileStream t = File.Create(_pristine))
        {
            for (long written = 0; written < Size; written += chunk.Length)
            {
                random.NextBytes(chunk);
                s.Write(chunk);
                t.Write(chunk);
            }
        }

        using (VirtualDisk disk = VirtualDisk.Open(_source))
        {
            byte[] page = new byte[4096];
            foreach (int region in Enumerable.Range(0, (int)(Size / 65536)).OrderBy(_ => random.Next()).Take((int)(Size / 65536 / 100)))
            {
                random.NextBytes(page);
                disk.Write((region * 65536L) + (random.Next(16) * 4096L), page);
            }
        }

        using (VirtualDisk pristine = VirtualDisk.Open(_pristine, DiskOpenOptions.ReadOnlyAccess))
        {
            new ManifestBuilder().BuildAsync(pristine, _pristineManifest).GetAwaiter().GetResult().Dispose();
        }
    }

    [IterationSetup]
    public void RestoreTarget()
    {
        File.Copy(_pristine, _target, overwrite: true);
        File.Copy(_pristineManifest, _manifest, overwrite: true);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark]
    public async Task<long> Resync()
    {
        using VirtualDisk source = VirtualDisk.Open(_source, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk target = VirtualDisk.Open(_target);
        SyncResult result = await new DiskSynchronizer().ResyncAsync(
            source,
            target,
            new ManifestFile(_manifest, target, checkStamp: false),
            new SyncOptions { TargetManifestPolicy = TargetManifestPolicy.VerifySample, RandomSeed = 1 });
        return result.DataBytesSent;
    }
}
