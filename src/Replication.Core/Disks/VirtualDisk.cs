using System.Runtime.CompilerServices;

namespace Replication.Core.Disks;

/// <summary>
/// Base of every disk format: checks arguments and state once, then hands the format a range that is known
/// to lie inside the disk. Also the one factory that opens and creates disks of any format.
/// </summary>
public abstract partial class VirtualDisk : IVirtualDisk
{
    private int _disposed;

    /// <inheritdoc />
    public abstract string? FilePath { get; }

    /// <inheritdoc />
    public abstract DiskFormat Format { get; }

    /// <inheritdoc />
    public abstract DiskType DiskType { get; }

    /// <inheritdoc />
    public abstract long VirtualSize { get; }

    /// <inheritdoc />
    public abstract int LogicalSectorSize { get; }

    /// <inheritdoc />
    public virtual int PhysicalSectorSize => LogicalSectorSize;

    /// <inheritdoc />
    public abstract int BlockSize { get; }

    /// <inheritdoc />
    public abstract bool IsReadOnly { get; }

    /// <inheritdoc />
    public virtual IVirtualDisk? Parent => null;

    /// <inheritdoc />
    public virtual Guid? DataWriteGuid => null;

    /// <inheritdoc />
    public abstract long AllocatedBytes { get; }

    /// <summary>True once the disk has been disposed.</summary>
    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        if (!destination.IsEmpty)
        {
            ReadCore(offset, destination);
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        if (IsReadOnly)
        {
            throw new NotSupportedException($"{FilePath ?? "disk"}: the disk is open read-only.");
        }

        if (!source.IsEmpty)
        {
            WriteCore(offset, source);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The data is read with asynchronous I/O on the file handle wherever the format knows where it lies (raw and fixed
    /// disks, allocated blocks, a parent's data); only structures the read depends on that are not cached yet (a sector
    /// bitmap of a partly written block) are read synchronously.
    /// </remarks>
    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, destination.Length);
        cancellationToken.ThrowIfCancellationRequested();
        return destination.IsEmpty ? ValueTask.CompletedTask : ReadCoreAsync(offset, destination, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The data is written with asynchronous I/O on the file handle wherever it goes to a known place (raw and fixed
    /// disks, fully allocated blocks); a write that allocates a block or changes metadata (a dynamic format's table, a
    /// VHDX log entry) does that part synchronously, under the format's lock.
    /// </remarks>
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, source.Length);
        if (IsReadOnly)
        {
            throw new NotSupportedException($"{FilePath ?? "disk"}: the disk is open read-only.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        return source.IsEmpty ? ValueTask.CompletedTask : WriteCoreAsync(offset, source, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes zeros over the parts of the range that may hold data (the rest already reads as zeros); a format that can
    /// deallocate instead (a raw or fixed VHD file: a punched hole) does so. Durable once the disk is flushed.
    /// </remarks>
    public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, length);
        if (IsReadOnly)
        {
            throw new NotSupportedException($"{FilePath ?? "disk"}: the disk is open read-only.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        return length == 0 ? ValueTask.CompletedTask : ZeroCoreAsync(offset, length, cancellationToken);
    }

    /// <summary>Makes a non-empty range known to lie inside a writable disk read as zeros.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected virtual async ValueTask ZeroCoreAsync(long offset, long length, CancellationToken cancellationToken)
    {
        foreach (DiskExtent extent in GetAllocatedExtentsCore(offset, length).ToList())
        {
            await ZeroBuffer.WriteAsync(this, extent.Offset, extent.Length, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (!IsReadOnly)
        {
            FlushCore();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Completes synchronously: the fsync runs on the calling thread, as the platform offers no asynchronous fsync; call
    /// it where blocking one thread for one disk flush is acceptable.
    /// </remarks>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Flush();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length)
    {
        CheckRange(offset, length);
        return length == 0 ? [] : GetAllocatedExtentsCore(offset, length);
    }

    /// <summary>
    /// Adds the allocated extents of [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// to <paramref name="into"/>, as <see cref="GetAllocatedExtents"/> gives them; formats that can do so without an
    /// enumerator (a raw image) allocate nothing, for callers that ask once per chunk of a whole disk.
    /// </summary>
    internal virtual void AddAllocatedExtents(long offset, long length, List<DiskExtent> into) => into.AddRange(GetAllocatedExtents(offset, length));

    /// <inheritdoc />
    public bool IsKnownZero(long offset, long length)
    {
        CheckRange(offset, length);
        using IEnumerator<DiskExtent> e = GetAllocatedExtentsCore(offset, length).GetEnumerator();
        return length == 0 || !e.MoveNext();
    }

    /// <summary>Reads a non-empty range known to lie inside the disk.</summary>
    protected abstract void ReadCore(long offset, Span<byte> destination);

    /// <summary>Writes a non-empty range known to lie inside the disk, on a writable disk.</summary>
    protected abstract void WriteCore(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every completed write durable.</summary>
    protected abstract void FlushCore();

    /// <summary>Reads a non-empty range known to lie inside the disk; the default reads synchronously through <see cref="ReadCore"/>.</summary>
    protected virtual ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadCore(offset, destination.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a non-empty range known to lie inside a writable disk; the default writes synchronously through <see cref="WriteCore"/>.</summary>
    protected virtual ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        WriteCore(offset, source.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Allocated extents of a non-empty range known to lie inside the disk, ascending, merged and clipped to the range.</summary>
    protected abstract IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length);

    /// <summary>Throws when the disk is disposed or the range is not inside it.</summary>
    protected void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        CheckInside(this, offset, length);
    }

    /// <summary>
    /// Whether each large asynchronous write starts its write-back as soon as it is made (see
    /// <see cref="IO.DiskFile.WriteBehind"/>): for a disk being filled by a bulk copy or an apply, whose flush at the
    /// end then has little left to do. Formats that do not support it read false and ignore a set.
    /// </summary>
    internal virtual bool WriteBehind
    {
        get => false;
        set { }
    }

    /// <summary>Throws unless [offset, offset + length) lies inside <paramref name="disk"/>.</summary>
    internal static void CheckInside(IVirtualDisk disk, long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset > disk.VirtualSize || length > disk.VirtualSize - offset)
        {
            throw new ArgumentOutOfRangeException(
                nameof(offset),
                $"{disk.FilePath ?? "disk"}: range [{offset}, {offset + length}) is outside the disk of {disk.VirtualSize} bytes.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Dispose(true);
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Releases the file and, for a differencing disk, its parent. Called once.</summary>
    protected abstract void Dispose(bool disposing);
}
