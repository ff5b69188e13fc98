using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Passes everything to an inner disk, except that an asynchronous read at <see cref="GateOffset"/> waits until the
/// test opens the gate (and tells it has started): a read that is "slow" exactly when the test wants, with no clock.
/// </summary>
public sealed class GatedDisk(IVirtualDisk inner, long gateOffset) : IVirtualDisk
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long GateOffset { get; } = gateOffset;

    /// <summary>Completes when a read reached the gate.</summary>
    public Task Entered => _entered.Task;

    public void Open() => _open.TrySetResult();

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

    public void Write(long offset, ReadOnlySpan<byte> source) => inner.Write(offset, source);

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (offset == GateOffset)
        {
            _entered.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
        }

        await inner.ReadAsync(offset, destination, cancellationToken);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => inner.WriteAsync(offset, source, cancellationToken);

    public void Flush() => inner.Flush();

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => inner.GetAllocatedExtents(offset, length);

    public bool IsKnownZero(long offset, long length) => inner.IsKnownZero(offset, length);

    public void Dispose()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
