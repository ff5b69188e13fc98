using System.Runtime.CompilerServices;

namespace Replication.Core.Disks;

/// <summary>A shared, never-written buffer of zeros for sinks that can only make a range read as zeros by writing them.</summary>
internal static class ZeroBuffer
{
    /// <summary>Size of the buffer, and of the largest write of zeros issued.</summary>
    public const int Size = 1 << 20;

    private static readonly byte[] Zeros = new byte[Size];

    /// <summary>
    /// Writes zeros over [offset, offset + length) with ordinary writes of at most 1 MiB, in ascending order; no
    /// allocation per call.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask WriteAsync(IDiskSink sink, long offset, long length, CancellationToken cancellationToken)
    {
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(Size, length - done);
            await sink.WriteAsync(offset + done, Zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            done += n;
        }
    }
}
