namespace Replication.Core.Disks;

/// <summary>
/// The one way to make a range of a disk read as zeros: through <see cref="IZeroingDisk"/> when the disk has it, else
/// by writing zeros from a shared, never-written buffer in chunks of at most 1 MiB (no allocation per call).
/// </summary>
internal static class DiskZeros
{
    /// <summary>Size of the shared buffer of zeros, and of the largest write of zeros issued.</summary>
    public const int ChunkSize = 1 << 20;

    private static readonly byte[] Zeros = new byte[ChunkSize];

    /// <summary>Makes [offset, offset + length) read as zeros, through <see cref="IZeroingDisk"/> when the disk has it.</summary>
    public static ValueTask ZeroAsync(IVirtualDisk disk, long offset, long length, CancellationToken cancellationToken) =>
        disk is IZeroingDisk zeroing ? zeroing.WriteZerosAsync(offset, length, cancellationToken) : WriteAsync(disk, offset, length, cancellationToken);

    /// <summary>Writes zeros over [offset, offset + length) with ordinary writes, chunk by chunk, in ascending order.</summary>
    public static async ValueTask WriteAsync(IVirtualDisk disk, long offset, long length, CancellationToken cancellationToken)
    {
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(ChunkSize, length - done);
            await disk.WriteAsync(offset + done, Zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            done += n;
        }
    }
}
