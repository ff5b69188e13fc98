using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>A disk in a byte array, for tests that apply thousands of logs and compare images.</summary>
public sealed class MemoryDisk(byte[] bytes) : IVirtualDisk
{
    public byte[] Bytes { get; } = bytes;

    public string? FilePath => null;

    public DiskFormat Format => DiskFormat.Raw;

    public DiskType DiskType => DiskType.Fixed;

    public long VirtualSize => Bytes.Length;

    public int LogicalSectorSize => 512;

    public int PhysicalSectorSize => 512;

    public int BlockSize => 4096;

    public bool IsReadOnly => false;

    public IVirtualDisk? Parent => null;

    public Guid? DataWriteGuid => null;

    public long AllocatedBytes => Bytes.Length;

    public void Read(long offset, Span<byte> destination) => Bytes.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);

    public void Write(long offset, ReadOnlySpan<byte> source) => source.CopyTo(Bytes.AsSpan(checked((int)offset)));

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        Read(offset, destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Write(offset, source.Span);
        return ValueTask.CompletedTask;
    }

    public void Flush()
    {
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => [new DiskExtent(offset, length)];

    public bool IsKnownZero(long offset, long length) => false;

    public void Dispose()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
