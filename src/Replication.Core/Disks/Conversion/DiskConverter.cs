using System.Buffers;
using System.Threading.Channels;
using Replication.Core.IO;

namespace Replication.Core.Disks.Conversion;

/// <summary>
/// Copies one disk into a new file of any format and type. Only allocated, non-zero data is written, so dynamic
/// outputs stay sparse and fixed outputs keep their holes; reading and writing overlap.
/// </summary>
public static class DiskConverter
{
    /// <summary>Size of each read; large sequential reads keep the source and the file system efficient.</summary>
    internal const int ChunkSize = 4 << 20;

    /// <summary>Granularity of zero detection inside a chunk: a run of zeros this size or larger is not written.</summary>
    internal const int ZeroGranularity = 4096;

    private const int BuffersInFlight = 4;

    /// <summary>
    /// Creates <paramref name="destinationPath"/> with <paramref name="options"/> (its virtual size is taken from the
    /// source when 0) and copies the source into it. The destination is flushed before this returns; on failure or
    /// cancellation the partial destination file is deleted.
    /// </summary>
    /// <returns>What was read and written.</returns>
    /// <exception cref="ArgumentException">The options do not fit the source (smaller size, other logical sector size).</exception>
    public static async Task<DiskConversionResult> ConvertAsync(
        IVirtualDisk source,
        string destinationPath,
        DiskCreateOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        ArgumentNullException.ThrowIfNull(options);
        if (options.VirtualSize == 0)
        {
            options = options with { VirtualSize = source.VirtualSize };
        }

        if (options.VirtualSize < source.VirtualSize)
        {
            throw new ArgumentException(
                $"The destination size {options.VirtualSize} is smaller than the source's {source.VirtualSize}.", nameof(options));
        }

        VirtualDisk destination = VirtualDisk.Create(destinationPath, options);
        try
        {
            DiskConversionResult result;
            await using (destination.ConfigureAwait(false))
            {
                result = await CopyAsync(source, destination, cancellationToken).ConfigureAwait(false);
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        catch
        {
            File.Delete(destinationPath);
            throw;
        }
    }

    /// <summary>
    /// Copies every allocated, non-zero range of <paramref name="source"/> to the same offsets of
    /// <paramref name="destination"/>. Ranges the source knows are zero are not read; zero runs that are read are not
    /// written, so the destination must already read as zero there (a new disk does). Does not flush.
    /// </summary>
    public static async Task<DiskConversionResult> CopyAsync(IVirtualDisk source, IVirtualDisk destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.VirtualSize < source.VirtualSize)
        {
            throw new ArgumentException("The destination is smaller than the source.", nameof(destination));
        }

        var filled = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(BuffersInFlight) { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<long> reader = Task.Run(() => ReadChunksAsync(source, filled.Writer, cts.Token), cts.Token);
        long written = 0;
        try
        {
            await foreach (Chunk chunk in filled.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                try
                {
                    written += await WriteNonZeroRunsAsync(destination, chunk, cts.Token).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk.Buffer);
                }
            }

            long read = await reader.ConfigureAwait(false);
            return new DiskConversionResult(source.VirtualSize, read, written);
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The reader stops because we cancelled it; the original failure is what matters.
            }

            while (filled.Reader.TryRead(out Chunk left))
            {
                ArrayPool<byte>.Shared.Return(left.Buffer);
            }

            throw;
        }
    }

    private static async Task<long> ReadChunksAsync(IVirtualDisk source, ChannelWriter<Chunk> output, CancellationToken cancellationToken)
    {
        long read = 0;
        try
        {
            foreach (DiskExtent extent in source.GetAllocatedExtents(0, source.VirtualSize))
            {
                for (long offset = extent.Offset; offset < extent.End;)
                {
                    // Chunks end on ChunkSize boundaries so dynamic destinations see whole-block writes.
                    long boundary = (offset / ChunkSize + 1) * ChunkSize;
                    int length = (int)(Math.Min(boundary, extent.End) - offset);
                    byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
                    try
                    {
                        await source.ReadAsync(offset, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                        await output.WriteAsync(new Chunk(offset, buffer, length), cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        throw;
                    }

                    read += length;
                    offset += length;
                }
            }

            output.Complete();
            return read;
        }
        catch (Exception ex)
        {
            output.Complete(ex);
            throw;
        }
    }

    private static async ValueTask<long> WriteNonZeroRunsAsync(IVirtualDisk destination, Chunk chunk, CancellationToken cancellationToken)
    {
        long written = 0;
        for (int position = 0; position < chunk.Length;)
        {
            int end = ZeroScanner.NextRun(chunk.Buffer.AsSpan(0, chunk.Length), position, ZeroGranularity, out bool isZero);
            if (!isZero)
            {
                await destination.WriteAsync(chunk.Offset + position, chunk.Buffer.AsMemory(position, end - position), cancellationToken).ConfigureAwait(false);
                written += end - position;
            }

            position = end;
        }

        return written;
    }

    private readonly record struct Chunk(long Offset, byte[] Buffer, int Length);
}
