using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>Wraps a disk; fails writes on demand, reports writes, counts flushes and holds them until told.</summary>
public sealed class FaultyDisk(IVirtualDisk inner) : IVirtualDisk
{
    private int _flushes;

    /// <summary>When set, a write for which it returns true throws an <see cref="IOException"/> instead of writing.</summary>
    public Func<long, int, bool>? FailWrite { get; set; }

    /// <summary>When set, called with the offset and length of each write before it is made.</summary>
    public Action<long, int>? OnWrite { get; set; }

    /// <summary>
    /// When set, each flush (counted when it starts) waits for this task before flushing the disk: the test decides
    /// when flushes finish, so flushers that arrive meanwhile are known to overlap.
    /// </summary>
    public Task? HoldFlushes { get; set; }

    public int Flushes => Volatile.Read(ref _flushes);

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

    public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (FailWrite?.Invoke(offset, source.Length) == true)
        {
            throw new IOException($"injected write failure at {offset}");
        }

        OnWrite?.Invoke(offset, source.Length);

        inner.Write(offset, source);
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) => inner.ReadAsync(offset, destination, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Write(offset, source.Span);
        return ValueTask.CompletedTask;
    }

    public void Flush()
    {
        Interlocked.Increment(ref _flushes);
        HoldFlushes?.GetAwaiter().GetResult();
        inner.Flush();
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _flushes);
        if (HoldFlushes is { } hold)
        {
            await hold.WaitAsync(cancellationToken);
        }

        await inner.FlushAsync(cancellationToken);
    }

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => inner.GetAllocatedExtents(offset, length);

    public bool IsKnownZero(long offset, long length) => inner.IsKnownZero(offset, length);

    public void Dispose() => inner.Dispose();

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
