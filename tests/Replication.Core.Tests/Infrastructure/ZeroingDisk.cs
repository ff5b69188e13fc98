using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Wraps a disk and records every range it is asked to zero (<see cref="IDiskSink.ZeroAsync"/>); the test double for a
/// target that can unmap.
/// </summary>
public sealed class ZeroingDisk(IVirtualDisk inner) : IVirtualDisk
{
    private readonly List<DiskExtent> _zeroed = [];
    private long _bytesWritten;

    /// <summary>The ranges asked to be zeroed, in offset order (writes and zeroing may come from several threads at once).</summary>
    public List<DiskExtent> Zeroed
    {
        get
        {
            lock (_zeroed)
            {
                return [.. _zeroed.OrderBy(e => e.Offset)];
            }
        }
    }

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public string? FilePath => inner.FilePath;

    public DiskFormat Format => inner.Format;

    public DiskType DiskType => inner.DiskType;

    public long VirtualSize => inner.VirtualSize;

    public int LogicalSectorSize => inner.LogicalSectorSize;

    public int PhysicalSectorSize => inner.PhysicalSectorSize;

    public int BlockSize => inner.BlockSize;

    public bool IsReadOnly => inner.IsReadOnly;

    public IVirtualDisk? Parent => inner.Parent;

    public Guid? DataWriteGuid => inner.DataWriteGuid;

    public long AllocatedBytes => inner.AllocatedBytes;

    public async ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        lock (_zeroed)
        {
            _zeroed.Add(new DiskExtent(offset, length));
        }

        await inner.WriteAsync(offset, new byte[length], cancellationToken);
    }

    public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Interlocked.Add(ref _bytesWritten, source.Length);
        inner.Write(offset, source);
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(offset, destination, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Interlocked.Add(ref _bytesWritten, source.Length);
        return inner.WriteAsync(offset, source, cancellationToken);
    }

    public void Flush() => inner.Flush();

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => inner.GetAllocatedExtents(offset, length);

    public bool IsKnownZero(long offset, long length) => inner.IsKnownZero(offset, length);

    public void Dispose() => inner.Dispose();

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
