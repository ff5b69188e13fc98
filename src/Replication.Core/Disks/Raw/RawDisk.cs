using Replication.Core.IO;

namespace Replication.Core.Disks.Raw;

/// <summary>
/// A raw image: byte N of the file is byte N of the disk. Created sparse; allocated extents come from the file
/// system's holes (SEEK_DATA / SEEK_HOLE) where it reports them, otherwise the whole disk counts as allocated.
/// </summary>
internal sealed class RawDisk : VirtualDisk
{
    /// <summary>Granularity at which extents are reported and aligned.</summary>
    public const int ExtentAlignment = 4096;

    private readonly DiskFile _file;

    private RawDisk(DiskFile file, long size)
    {
        _file = file;
        VirtualSize = size;
    }

    /// <inheritdoc />
    public override string? FilePath => _file.Path;

    /// <inheritdoc />
    public override DiskFormat Format => DiskFormat.Raw;

    /// <inheritdoc />
    public override DiskType DiskType => DiskType.Fixed;

    /// <inheritdoc />
    public override long VirtualSize { get; }

    /// <inheritdoc />
    public override int LogicalSectorSize => 512;

    /// <inheritdoc />
    public override int BlockSize => ExtentAlignment;

    /// <inheritdoc />
    public override bool IsReadOnly => !_file.IsWritable;

    /// <inheritdoc />
    public override long AllocatedBytes
    {
        get
        {
            long total = 0;
            foreach ((_, long length) in SparseFile.EnumerateData(_file.Handle, 0, VirtualSize, ExtentAlignment))
            {
                total += length;
            }

            return total;
        }
    }

    internal static RawDisk OpenImage(DiskFile file)
    {
        long length = file.Length;
        if (length % 512 != 0)
        {
            throw new InvalidDiskFormatException(file.Path, length, "raw image length", $"{length} bytes is not a whole number of 512-byte sectors");
        }

        return new RawDisk(file, length);
    }

    internal static RawDisk CreateImage(string fullPath, DiskCreateOptions options)
    {
        if (options.Type != DiskType.Fixed)
        {
            throw new ArgumentException("A raw image is always fixed (created as a sparse file).", nameof(options));
        }

        if (options.LogicalSectorSize != 512)
        {
            throw new ArgumentException("A raw image has 512-byte logical sectors.", nameof(options));
        }

        long size = options.RoundUpToMiB ? RoundUp(options.VirtualSize, 1 << 20) : options.VirtualSize;
        if (size <= 0 || size % 512 != 0)
        {
            throw new ArgumentException($"The virtual size {options.VirtualSize} must be a positive multiple of 512.", nameof(options));
        }

        DiskFile file = DiskFile.CreateNew(fullPath);
        try
        {
            file.SetLength(size);
            file.Flush();
            return new RawDisk(file, size);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override void ReadCore(long offset, Span<byte> destination) => _file.ReadZeroPadded(offset, destination);

    /// <inheritdoc />
    protected override void WriteCore(long offset, ReadOnlySpan<byte> source) => _file.Write(offset, source);

    /// <inheritdoc />
    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        _file.ReadZeroPaddedAsync(offset, destination, cancellationToken);

    /// <inheritdoc />
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken) =>
        _file.WriteAsync(offset, source, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Punches a hole in the file (fallocate), or writes zeros where the file system cannot.</remarks>
    protected override ValueTask ZeroCoreAsync(long offset, long length, CancellationToken cancellationToken) =>
        _file.TryPunchHole(offset, length) ? ValueTask.CompletedTask : base.ZeroCoreAsync(offset, length, cancellationToken);

    /// <inheritdoc />
    protected override void FlushCore() => _file.Flush();

    /// <inheritdoc />
    internal override bool WriteBehind
    {
        get => _file.WriteBehind;
        set => _file.WriteBehind = value;
    }

    /// <inheritdoc />
    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length) => DataExtents(_file.Handle, offset, length);

    /// <inheritdoc />
    internal override void AddAllocatedExtents(long offset, long length, List<DiskExtent> into)
    {
        CheckRange(offset, length);
        foreach ((long start, long size) in SparseFile.EnumerateData(_file.Handle, offset, length, ExtentAlignment))
        {
            into.Add(new DiskExtent(start, size));
        }
    }

    /// <summary>The data ranges of a file that is byte for byte a disk (a raw image, a fixed VHD), at <see cref="ExtentAlignment"/>.</summary>
    internal static IEnumerable<DiskExtent> DataExtents(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length)
    {
        foreach ((long start, long size) in SparseFile.EnumerateData(handle, offset, length, ExtentAlignment))
        {
            yield return new DiskExtent(start, size);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
