using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// An in-memory replica writer that accepts every write and keeps nothing: what remains is the pipeline's own cost
/// (reading, splitting, zero detection, scheduling, allocation), with no target in the way.
/// </summary>
internal sealed class NullReplicaWriter(long virtualSize) : IReplicaWriter
{
    private long _bytesWritten;
    private long _bytesZeroed;

    public string Location => "memory://null";

    public long VirtualSize { get; } = virtualSize;

    public int WriteAlignment => 512;

    public bool IsReadOnly => false;

    public long FenceEpoch => 1;

    public DateTimeOffset? FenceExpiresAt => null;

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public long BytesZeroed => Interlocked.Read(ref _bytesZeroed);

    public ValueTask RenewAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask ReleaseAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        Interlocked.Add(ref _bytesWritten, data.Length);
        return ValueTask.CompletedTask;
    }

    public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        Interlocked.Add(ref _bytesZeroed, length);
        return ValueTask.CompletedTask;
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        destination.Span.Clear();
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => [new DiskExtent(offset, length)];

    public ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(StoredManifest.None("The null writer keeps no manifest."));

    public ValueTask<RecoveryPoint> CreateRecoveryPointAsync(string? label = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The null writer keeps no recovery points.");

    public ValueTask<bool> DeleteRecoveryPointAsync(string id, CancellationToken cancellationToken = default) => ValueTask.FromResult(false);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
