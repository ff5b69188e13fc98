using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.IO;

/// <summary>
/// Positional, thread-safe access to one image file (RandomAccess over an unbuffered handle), with reads that
/// turn end-of-file into an <see cref="InvalidDiskFormatException"/> naming the structure that was cut short.
/// </summary>
internal sealed class DiskFile : IDisposable
{
    /// <summary>
    /// Asynchronous writes of at least this many bytes start their write-back when <see cref="WriteBehind"/> is on: an
    /// apply's extents are often single 64 KiB blocks, a conversion's writes megabytes.
    /// </summary>
    internal const int WriteBehindMinimum = 64 << 10;

    private readonly FileStream _stream;

    private DiskFile(string path, FileStream stream, bool writable)
    {
        Path = path;
        _stream = stream;
        Handle = stream.SafeFileHandle;
        IsWritable = writable;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The handle, for RandomAccess calls.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>True when opened for writing.</summary>
    public bool IsWritable { get; }

    /// <summary>The current length of the file.</summary>
    public long Length => RandomAccess.GetLength(Handle);

    /// <summary>Opens an existing file; a writer shares it with readers only.</summary>
    public static DiskFile Open(string path, bool writable)
    {
        string full = System.IO.Path.GetFullPath(path);
        try
        {
            var stream = new FileStream(
                full,
                FileMode.Open,
                writable ? FileAccess.ReadWrite : FileAccess.Read,
                writable ? FileShare.Read : FileShare.ReadWrite,
                bufferSize: 0,
                FileOptions.RandomAccess | FileOptions.Asynchronous);
            return new DiskFile(full, stream, writable);
        }
        catch (FileNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: the disk file does not exist.", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: the disk file's folder does not exist.", ex);
        }
    }

    /// <summary>Creates a new file; fails if it exists, so an existing disk is never overwritten by accident.</summary>
    public static DiskFile CreateNew(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(full, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.RandomAccess | FileOptions.Asynchronous);
        return new DiskFile(full, stream, writable: true);
    }

    /// <summary>
    /// Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="fileOffset"/>, or throws an
    /// <see cref="InvalidDiskFormatException"/> naming <paramref name="field"/> when the file ends first.
    /// </summary>
    public void ReadExactly(long fileOffset, Span<byte> destination, string field)
    {
        if (fileOffset < 0)
        {
            throw new InvalidDiskFormatException(Path, fileOffset, field, "negative file offset");
        }

        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(Handle, destination[done..], fileOffset + done);
            if (n == 0)
            {
                throw EndsBefore(fileOffset, destination.Length, field);
            }

            done += n;
        }
    }

    /// <summary>Asynchronous form of <see cref="ReadExactly"/>: the read is issued on the file handle (RandomAccess).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadExactlyAsync(long fileOffset, Memory<byte> destination, string field, CancellationToken cancellationToken)
    {
        if (fileOffset < 0)
        {
            throw new InvalidDiskFormatException(Path, fileOffset, field, "negative file offset");
        }

        int done = 0;
        while (done < destination.Length)
        {
            int n = await RandomAccess.ReadAsync(Handle, destination[done..], fileOffset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw EndsBefore(fileOffset, destination.Length, field);
            }

            done += n;
        }
    }

    /// <summary>Asynchronous form of <see cref="ReadZeroPadded"/>: the read is issued on the file handle (RandomAccess).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadZeroPaddedAsync(long fileOffset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = await RandomAccess.ReadAsync(Handle, destination[done..], fileOffset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                destination.Span[done..].Clear();
                return;
            }

            done += n;
        }
    }

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes; bytes past the end of the file read as zero.</summary>
    public void ReadZeroPadded(long fileOffset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(Handle, destination[done..], fileOffset + done);
            if (n == 0)
            {
                destination[done..].Clear();
                return;
            }

            done += n;
        }
    }

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="fileOffset"/>.</summary>
    public void Write(long fileOffset, ReadOnlySpan<byte> source) => RandomAccess.Write(Handle, source, fileOffset);

    /// <summary>
    /// When true, every asynchronous write of at least <see cref="WriteBehindMinimum"/> bytes asks the kernel to start
    /// writing that range back (sync_file_range, SYNC_FILE_RANGE_WRITE) as soon as it is written, so a bulk copy's
    /// write-back overlaps the copy instead of all waiting for the final flush. Only a hint: it makes nothing
    /// durable and reports nothing; the flush still does both. Off by default, for the small writes of a live disk.
    /// </summary>
    public bool WriteBehind { get; set; }

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="fileOffset"/>.</summary>
    public ValueTask WriteAsync(long fileOffset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken) =>
        WriteBehind && source.Length >= WriteBehindMinimum
            ? WriteThenStartWritebackAsync(fileOffset, source, cancellationToken)
            : RandomAccess.WriteAsync(Handle, source, fileOffset, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteThenStartWritebackAsync(long fileOffset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        await RandomAccess.WriteAsync(Handle, source, fileOffset, cancellationToken).ConfigureAwait(false);
        Writeback.Start(Handle, fileOffset, source.Length);
    }

    /// <summary>Punches a hole over [fileOffset, fileOffset + length), keeping the size; false when the file system cannot.</summary>
    public bool TryPunchHole(long fileOffset, long length) => SparseFile.TryPunchHole(Handle, fileOffset, length);

    /// <summary>Sets the file's length (extending with zeros, sparse where the file system allows).</summary>
    public void SetLength(long length) => RandomAccess.SetLength(Handle, length);

    /// <summary>Flushes the file's data and metadata to stable storage (fsync).</summary>
    public void Flush() => _stream.Flush(flushToDisk: true);

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private InvalidDiskFormatException EndsBefore(long fileOffset, int length, string field) =>
        new(Path, fileOffset, field, $"the file ends at {Length} bytes, before the {length} bytes of this structure");
}
