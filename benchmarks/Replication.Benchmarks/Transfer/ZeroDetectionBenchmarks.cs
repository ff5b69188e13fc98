using BenchmarkDotNet.Attributes;
using Replication.Core.IO;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// Splitting a 4 MiB buffer (every other 64 KiB zero) into zero and data runs of 4 KiB units: the vectorised scanner
/// against a byte-at-a-time loop.
/// </summary>
[MemoryDiagnoser]
public class ZeroDetectionBenchmarks
{
    private const int Unit = 4096;
    private readonly byte[] _buffer = new byte[4 << 20];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int offset = 0; offset < _buffer.Length; offset += 128 * 1024)
        {
            random.NextBytes(_buffer.AsSpan(offset, 64 * 1024));
        }
    }

    [Benchmark(Baseline = true)]
    public int ByteLoop()
    {
        int zeroUnits = 0;
        for (int unit = 0; unit < _buffer.Length; unit += Unit)
        {
            bool zero = true;
            for (int i = unit; i < unit + Unit; i++)
            {
                if (_buffer[i] != 0)
                {
                    zero = false;
                    break;
                }
            }

            zeroUnits += zero ? 1 : 0;
        }

        return zeroUnits;
    }

    [Benchmark]
    public int Vectorised()
    {
        int zeroRuns = 0;
        for (int position = 0; position < _buffer.Length;)
        {
            position = ZeroScanner.NextRun(_buffer, position, Unit, out bool isZero);
            zeroRuns += isZero ? 1 : 0;
        }

        return zeroRuns;
    }
}
