using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// A raw disk with a VHDX-style DataWriteGuid, for testing what depends on it before the VHDX format is merged: the GUID
/// lives in <c>&lt;path&gt;.dwg</c> and, as VHDX does, is renewed (durably) before the first data write of each open.
/// </summary>
public sealed class DataWriteGuidDisk : IVirtualDisk
{
    private readonly VirtualDisk _inner;
    private readonly string _guidPath;
    private readonly Lock _lock = new();
    private Guid _guid;
    private bool _renewed;

    private DataWriteGuidDisk(VirtualDisk inner, string guidPath)
    {
        _inner = inner;
        _guidPath = guidPath;
        _guid = new Guid(File.ReadAllBytes(guidPath));
    }

    public static DataWriteGuidDisk Create(string path, long size)
    {
        VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = size }).Dispose();
        File.WriteAllBytes(path + ".dwg", Guid.NewGuid().ToByteArray());
        return Open(path);
    }

    public static DataWriteGuidDisk Open(string path, DiskOpenOptions? options = null) => new(VirtualDisk.Open(path, options), path + ".dwg");

    public string? FilePath => _inner.FilePath;

    public DiskFormat Format => DiskFormat.Vhdx;

    public DiskType DiskType => DiskType.Fixed;

    public long VirtualSize => _inner.VirtualSize;

    public int LogicalSectorSize => _inner.LogicalSectorSize;

    public int PhysicalSectorSize => _inner.PhysicalSectorSize;

    public int BlockSize => _inner.BlockSize;

    public bool IsReadOnly => _inner.IsReadOnly;

    public IVirtualDisk? Parent => null;

    public Guid? DataWriteGuid
    {
        get
        {
            lock (_lock)
            {
                return _guid;
            }
        }
    }

    public long AllocatedBytes => _inner.AllocatedBytes;

    public void Read(long offset, Span<byte> destination) => _inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Renew();
        _inner.Write(offset, source);
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) => _inner.ReadAsync(offset, destination, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Renew();
        return _inner.WriteAsync(offset, source, cancellationToken);
    }

    public void Flush() => _inner.Flush();

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => _inner.GetAllocatedExtents(offset, length);

    public bool IsKnownZero(long offset, long length) => _inner.IsKnownZero(offset, length);

    public void Dispose() => _inner.Dispose();

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private void Renew()
    {
        lock (_lock)
        {
            if (!_renewed)
            {
                var next = Guid.NewGuid();
                string temporary = _guidPath + ".tmp";
                using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                {
                    stream.Write(next.ToByteArray());
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temporary, _guidPath, overwrite: true);
                _guid = next;
                _renewed = true;
            }
        }
    }
}
