using System.Globalization;

namespace Replication.Cli;

/// <summary>
/// Progress of one step of a long operation as plain lines (at most one a second, and one at the end), for logs and
/// pipes: what <see cref="ProgressDisplay"/> prints when standard error is not a terminal.
/// </summary>
internal sealed class ProgressLines(string verb, TextWriter output, TimeProvider time)
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private long _last = long.MinValue;
    private (long Done, long Total)? _lastFinal;

    /// <summary>Prints a line for work done out of a total, at most once a second and always for the last one.</summary>
    public void Write(long done, long total, double bytesPerSecond, TimeSpan? remaining, long sent, long zeroed, long checkpoint, bool finished = false)
    {
        long now = time.GetTimestamp();
        bool final = finished || done >= total;
        lock (_lock)
        {
            // The end of a step is reported more than once (copied, then flushed): one line says it.
            if ((!final && _last != long.MinValue && time.GetElapsedTime(_last, now) < Interval) || (final && _lastFinal == (done, total)))
            {
                return;
            }

            _last = now;
            _lastFinal = final ? (done, total) : null;
        }

        double percent = total == 0 ? 100 : 100.0 * done / total;
        string left = remaining is { } eta && !final && bytesPerSecond > 0 ? string.Create(CultureInfo.InvariantCulture, $", about {eta.TotalSeconds:0} s left") : "";
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"repl: {verb} {percent:0}% ({Size(done)} of {Size(total)}, {Size((long)bytesPerSecond)}/s{left}; sent {Size(sent)}, zero {Size(zeroed)}; checkpoint at {Size(checkpoint)})"));
    }

    /// <summary>A byte count in B, KiB, MiB or GiB with one decimal.</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
