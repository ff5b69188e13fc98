using System.Globalization;

namespace Replication.Benchmarks;

/// <summary>
/// Input sizes of the suites. CI's short mode sets REPL_BENCH_MAX_MIB so every suite runs on small inputs and only
/// proves it still works; a full run leaves it unset and gets the sizes the suites document.
/// </summary>
internal static class BenchmarkSize
{
    /// <summary><paramref name="full"/>, or the cap from REPL_BENCH_MAX_MIB when that is smaller.</summary>
    public static long Cap(long full) =>
        Environment.GetEnvironmentVariable("REPL_BENCH_MAX_MIB") is { Length: > 0 } text
            ? Math.Min(full, long.Parse(text, CultureInfo.InvariantCulture) << 20)
            : full;
}
