using Replication.Core.Disks;
using Replication.Core.Targets;

namespace Replication.Core.Transfer;

/// <summary>Where a transfer writes: a replica writer (upload) or a local disk (download).</summary>
internal interface ITransferSink
{
    string Location { get; }

    long Size { get; }

    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken);

    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>Writes to a replica through its writer.</summary>
internal sealed class ReplicaWriterSink(IReplicaWriter writer) : ITransferSink
{
    public string Location => writer.Location;

    public long Size => writer.VirtualSize;

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => writer.WriteAsync(offset, data, cancellationToken);

    public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken) => writer.ZeroAsync(offset, length, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);
}

/// <summary>Writes to a virtual disk; zeroing goes through the disk's own <see cref="IDiskSink.ZeroAsync"/>.</summary>
internal sealed class VirtualDiskSink(IVirtualDisk disk) : ITransferSink
{
    public string Location => disk.FilePath ?? "disk";

    public long Size => disk.VirtualSize;

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => disk.WriteAsync(offset, data, cancellationToken);

    public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken) => disk.ZeroAsync(offset, length, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => disk.FlushAsync(cancellationToken);
}
