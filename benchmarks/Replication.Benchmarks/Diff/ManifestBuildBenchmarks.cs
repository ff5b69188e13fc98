using System.IO.Hashing;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;
using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Benchmarks.Diff;

/// <summary>
/// Manifest build of a 256 MiB raw file of random data in page cache (P3, P10), against a baseline that reads the same
/// file in 4 MiB chunks and does the same hashing (XxHash128 per 4 KiB, XxHash128 of each 1 MiB's 256 fine hashes) on one
/// thread.
/// Allocated / 64 is the allocation per 4 MiB block (P10: at most 1 KiB).
/// </summary>
[MemoryDiagnoser]
public class ManifestBuildBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private const int Chunk = 4 << 20;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-bench-" + Guid.NewGuid().ToString("N"));
    private VirtualDisk _disk = null!;
    private SafeFileHandle _file = null!;
    private byte[] _buffer = null!;
    private readonly UInt128[] _fines = new UInt128[256];
    private ManifestOptions _options = null!;

    /// <summary>Hashing threads: 1, or 0 for one per processor.</summary>
    [Params(1, 0)]
    public int Parallelism { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "disk.img");
        byte[] chunk = new byte[1 << 20];
        var random = new Random(1);
        using (FileStream stream = File.Create(path))
        {
            for (long written = 0; written < Size; written += chunk.Length)
            {
                random.NextBytes(chunk);
                stream.Write(chunk);
            }
        }

        _disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        _file = File.OpenHandle(path);
        _buffer = new byte[Chunk];
        _options = new ManifestOptions { MaxDegreeOfParallelism = Parallelism };
        Baseline();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _disk.Dispose();
        _file.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public ulong Baseline()
    {
        ulong acc = 0;
        for (long offset = 0; offset < Size; offset += Chunk)
        {
            RandomAccess.Read(_file, _buffer, offset);
            for (int coarse = 0; coarse < Chunk; coarse += 1 << 20)
            {
                ReadOnlySpan<byte> block = _buffer.AsSpan(coarse, 1 << 20);
                for (int fine = 0; fine < block.Length; fine += 4096)
                {
                    _fines[fine / 4096] = XxHash128.HashToUInt128(block.Slice(fine, 4096));
                }

                acc ^= (ulong)XxHash128.HashToUInt128(MemoryMarshal.AsBytes(_fines.AsSpan()));
            }
        }

        return acc;
    }

    [Benchmark]
    public async Task<long> BuildManifest()
    {
        using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(_disk, Path.Combine(_dir, "disk.manifest"), _options);
        return built.BytesHashed;
    }
}
