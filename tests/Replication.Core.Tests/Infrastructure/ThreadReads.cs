using System.Globalization;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// The read system calls the calling thread has made so far, from Linux's per-thread I/O accounting
/// (<c>/proc/thread-self/io</c>: <c>rchar</c>, bytes returned by reads; <c>syscr</c>, read calls). A measure of work
/// that does not depend on how busy the machine is, for bounding what a parser does with hostile input.
/// </summary>
public readonly record struct ThreadReads(long Bytes, long Calls)
{
    private const string Source = "/proc/thread-self/io";

    public static ThreadReads Now()
    {
        if (!File.Exists(Source))
        {
            throw new Xunit.Sdk.XunitException($"{Source} is missing: the kernel's per-task I/O accounting is needed to bound a reader's work.");
        }

        long bytes = -1, calls = -1;
        foreach (string line in File.ReadLines(Source))
        {
            if (line.StartsWith("rchar:", StringComparison.Ordinal))
            {
                bytes = long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("syscr:", StringComparison.Ordinal))
            {
                calls = long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
            }
        }

        Assert.True(bytes >= 0 && calls >= 0, $"{Source} has no rchar or syscr line");
        return new ThreadReads(bytes, calls);
    }

    public static ThreadReads operator -(ThreadReads after, ThreadReads before) => new(after.Bytes - before.Bytes, after.Calls - before.Calls);
}
