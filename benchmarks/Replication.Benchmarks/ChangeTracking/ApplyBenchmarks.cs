using BenchmarkDotNet.Attributes;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.ChangeTracking;

/// <summary>
/// PERFORMANCE.md P6 in process: applying a sealed log (sidecar check, coalescing, writes, flush) to a 512 MiB raw
/// replica, against the physical baseline of <c>dd … conv=fdatasync</c>: the same byte count written sequentially in
/// 1 MiB writes, then fdatasync'd. The log holds a quarter of the disk in random 64 KiB writes, or every other MiB.
/// The side-by-side run against dd itself, process start included, is in benchmarks/compare.sh. Both logs (about 128 and
/// 256 MiB) are beyond the default staging limit, so <see cref="Apply"/> hashes each and then reads it again;
/// <see cref="ApplyStaged"/> reads each once into (pooled, here already warm) memory and applies from there.
/// </summary>
[MemoryDiagnoser]
public class ApplyBenchmarks
{
    private const long Size = 512L << 20;
    private string _dir = null!;
    private string _log = null!;
    private VirtualDisk _replica = null!;
    private Microsoft.Win32.SafeHandles.SafeFileHandle _peer = null!;
    private byte[] _chunk = null!;
    private long _bytes;

    [Params("random-64KiB", "runs-1MiB")]
    public string Shape { get; set; } = "random-64KiB";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "repl-bench-apply-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _chunk = new byte[1 << 20];
        new Random(1).NextBytes(_chunk);
        string replicaPath = Path.Combine(_dir, "replica.img");
        using (VirtualDisk create = VirtualDisk.Create(replicaPath, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }))
        {
            for (long offset = 0; offset < Size; offset += _chunk.Length)
            {
                create.Write(offset, _chunk);
            }
        }

        _log = Path.Combine(_dir, "log.hrl");
        var random = new Random(2);
        using (HrlWriter writer = HrlWriter.Create(_log, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), TimeProvider.System))
        {
            if (Shape == "runs-1MiB")
            {
                for (long offset = 0; offset < Size; offset += 2 << 20)
                {
                    random.NextBytes(_chunk);
                    writer.Append(offset, _chunk);
                }
            }
            else
            {
                byte[] block = new byte[64 << 10];
                for (int i = 0; i < Size / block.Length / 4; i++)
                {
                    random.NextBytes(block);
                    writer.Append(random.NextInt64(0, Size / block.Length) * block.Length, block);
                }
            }

            writer.Seal();
        }

        HrlIntegrity.WriteSidecar(_log);
        using (HrlReader reader = HrlReader.Open(_log))
        using (CoalescedChanges changes = CoalescedChanges.Build([reader]))
        {
            _bytes = changes.Bytes;
        }

        _replica = VirtualDisk.Open(replicaPath);
        _peer = File.OpenHandle(Path.Combine(_dir, "peer.img"), FileMode.Create, FileAccess.ReadWrite);
        RandomAccess.SetLength(_peer, Size);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _replica.Dispose();
        _peer.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public void DdSameByteCount()
    {
        for (long offset = 0; offset < _bytes; offset += _chunk.Length)
        {
            RandomAccess.Write(_peer, _chunk.AsSpan(0, (int)Math.Min(_chunk.Length, _bytes - offset)), offset);
        }

        RandomAccess.FlushToDisk(_peer);
    }

    [Benchmark]
    public Task<LogApplyResult> Apply() => new LogApplier().ApplyAsync([_log], _replica);

    /// <summary>The same apply without write-behind: every extent's write-back waits for the final flush.</summary>
    [Benchmark]
    public Task<LogApplyResult> ApplyWithoutWriteBehind() => new LogApplier { WriteBehind = false }.ApplyAsync([_log], _replica);

    /// <summary>The same apply with the whole log staged: read from its file once, hashed, applied from memory.</summary>
    [Benchmark]
    public Task<LogApplyResult> ApplyStaged() => new LogApplier().ApplyAsync([_log], _replica, new LogApplyOptions { StagingLimit = 1L << 30 });
}
