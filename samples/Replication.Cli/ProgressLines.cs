using System.Globalization;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>
/// Progress of a long transfer as plain lines on standard error (at most one a second, and one at the end), for people
/// and logs; nothing is printed when the verb was asked for JSON.
/// </summary>
internal sealed class ProgressLines(string verb, TextWriter output, TimeProvider time) : IProgress<SyncProgress>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private long _last = long.MinValue;

    /// <summary>A reporter for <paramref name="verb"/>, or null when the verb prints JSON.</summary>
    public static ProgressLines? For(string verb, bool json) => json ? null : new ProgressLines(verb, Console.Error, TimeProvider.System);

    public void Report(SyncProgress value)
    {
        if (value.Phase < SyncPhase.Copying)
        {
            return;
        }

        Write(value.BytesCopied, value.BytesToCopy, value.BytesPerSecond, value.EstimatedRemaining, value.BytesSent, value.BytesZeroed, value.CheckpointedUpTo, value.Phase >= SyncPhase.Finalizing);
    }

    /// <summary>Prints a line for work done out of a total, at most once a second and always for the last one.</summary>
    public void Write(long done, long total, double bytesPerSecond, TimeSpan? remaining, long sent, long zeroed, long checkpoint, bool finished = false)
    {
        long now = time.GetTimestamp();
        bool final = finished || done >= total;
        lock (_lock)
        {
            if (!final && _last != long.MinValue && time.GetElapsedTime(_last, now) < Interval)
            {
                return;
            }

            _last = now;
        }

        double percent = total == 0 ? 100 : 100.0 * done / total;
        string left = remaining is { } eta && !final ? string.Create(CultureInfo.InvariantCulture, $", about {eta.TotalSeconds:0} s left") : "";
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"repl: {verb} {percent:0}% ({Size(done)} of {Size(total)}, {Size((long)bytesPerSecond)}/s{left}; sent {Size(sent)}, zero {Size(zeroed)}; checkpoint at {Size(checkpoint)})"));
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
