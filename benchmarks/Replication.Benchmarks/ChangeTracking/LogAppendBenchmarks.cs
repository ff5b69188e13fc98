using BenchmarkDotNet.Attributes;
using FASTER.core;
using Replication.Core.ChangeTracking.Hrl;

namespace Replication.Benchmarks.ChangeTracking;

/// <summary>
/// PERFORMANCE.md P5: appending the same payloads with the same commit points to an HRL log and to a
/// Microsoft.FASTER.Core <see cref="FasterLog"/> (the baseline). A commit point is durable when it returns: HRL
/// <c>Commit</c> + <c>Flush</c> (metadata block, fsync); FasterLog <c>Commit(spinWait: true)</c> (its pages and commit
/// record written through to the device). Each operation appends 1024 payloads into a fresh log.
/// </summary>
[MemoryDiagnoser]
public class LogAppendBenchmarks
{
    private const int Entries = 1024;
    private string _dir = null!;
    private byte[] _payload = null!;
    private HrlWriter? _hrl;
    private FasterLog? _faster;
    private IDevice? _device;
    private FasterLogSettings? _settings;
    private int _iteration;

    [Params(4096, 65536)]
    public int PayloadSize { get; set; }

    [Params(64)]
    public int CommitEvery { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "repl-bench-append-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _payload = new byte[PayloadSize];
        new Random(1).NextBytes(_payload);
    }

    [IterationSetup(Target = nameof(Hrl))]
    public void NewHrl() =>
        _hrl = HrlWriter.Create(Path.Combine(_dir, $"{_iteration++}.hrl"), new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), TimeProvider.System);

    [IterationCleanup(Target = nameof(Hrl))]
    public void DropHrl()
    {
        string path = _hrl!.FilePath;
        _hrl.Dispose();
        File.Delete(path);
    }

    [IterationSetup(Target = nameof(FasterLog))]
    public void NewFasterLog()
    {
        string dir = Path.Combine(_dir, $"faster-{_iteration++}");
        _device = Devices.CreateLogDevice(Path.Combine(dir, "hlog.log"));
        _settings = new FasterLogSettings
        {
            LogDevice = _device,
            LogCommitDir = dir,
            PageSizeBits = 22,
            MemorySizeBits = 26,
            SegmentSizeBits = 30,
        };
        _faster = new FasterLog(_settings);
    }

    [IterationCleanup(Target = nameof(FasterLog))]
    public void DropFasterLog()
    {
        _faster!.Dispose();
        _device!.Dispose();
        _settings!.Dispose();
        foreach (string dir in Directory.GetDirectories(_dir, "faster-*"))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark(Baseline = true)]
    public void FasterLog()
    {
        for (int i = 0; i < Entries; i++)
        {
            _faster!.Enqueue(_payload);
            if (i % CommitEvery == CommitEvery - 1)
            {
                _faster.Commit(spinWait: true);
            }
        }
    }

    [Benchmark]
    public void Hrl()
    {
        for (int i = 0; i < Entries; i++)
        {
            _hrl!.Append((long)i * PayloadSize, _payload);
            if (i % CommitEvery == CommitEvery - 1)
            {
                _hrl.Commit();
                _hrl.Flush();
            }
        }
    }
}
