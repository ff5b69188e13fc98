using System.Numerics;
using Replication.Core.Disks.Raw;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhd;

/// <summary>
/// A VHD (Microsoft Virtual Hard Disk Image Format Specification, 2006): fixed, dynamic or differencing, 512-byte
/// sectors, up to 2040 GiB for dynamic and differencing disks.
/// </summary>
/// <remarks>
/// <para>
/// The virtual size is the footer's current size, as Hyper-V and Azure read it; the CHS geometry is informational.
/// A dynamic or differencing disk allocates a block on the first write to it and keeps the file valid after a crash at
/// any point (see <see cref="VirtualDisk.Write"/>). Its footer copy at offset 0 is never rewritten; when the footer at
/// the end of the file is damaged the copy is used instead, as the specification recommends.
/// </para>
/// <para>
/// Reads and writes of disjoint byte ranges may run concurrently from many threads, including ranges that share a
/// block or a sector. Allocation is serialised by one lock; sector bitmap updates by a lock per block (striped).
/// </para>
/// </remarks>
internal sealed partial class VhdDisk : VirtualDisk
{
    private const int SectorSize = 512;
    private const int SectorShift = 9;
    private const int LockStripes = 64;
    private const string DataField = "VHD block data";
    private const string BitmapField = "VHD sector bitmap";

    private readonly DiskFile _file;
    private readonly VhdLayout _layout;
    private readonly VirtualDisk? _parent;
    private readonly DiskType _diskType;

    // Dynamic and differencing disks only. _bat entries change once, from unallocated to a sector number, under
    // _allocationLock; readers see either value through Volatile.Read.
    private readonly uint[] _bat;
    private readonly int _blockSize;
    private readonly int _blockShift;
    private readonly int _bitmapSize;
    private readonly int _sectorsPerBlock;

    // A block whose bitmap is known to be all ones reads and writes without touching the bitmap again; bits are never
    // cleared, so once set this stays true.
    private readonly ulong[] _fullBlocks;
    private readonly Lock _allocationLock = new();
    private readonly Lock[] _blockLocks;
    private long _nextBlockOffset;
    private long _allocatedBytes;

    private VhdDisk(DiskFile file, VhdLayout layout, VirtualDisk? parent)
    {
        _file = file;
        _layout = layout;
        _parent = parent;
        VirtualSize = layout.VirtualSize;
        _diskType = layout.Footer.DiskType switch
        {
            VhdDiskType.Fixed => DiskType.Fixed,
            VhdDiskType.Dynamic => DiskType.Dynamic,
            _ => DiskType.Differencing,
        };
        _bat = layout.Bat;
        _blockLocks = [];
        _fullBlocks = [];
        if (_diskType == DiskType.Fixed)
        {
            _allocatedBytes = VirtualSize;
            return;
        }

        _blockSize = layout.Header.BlockSize;
        _blockShift = BitOperations.Log2((uint)_blockSize);
        _bitmapSize = VhdDynamicHeader.BitmapSize(_blockSize);
        _sectorsPerBlock = _blockSize / SectorSize;
        _nextBlockOffset = layout.NextBlockOffset;
        _fullBlocks = new ulong[(_bat.Length + 63) / 64];
        _blockLocks = new Lock[LockStripes];
        for (int i = 0; i < _blockLocks.Length; i++)
        {
            _blockLocks[i] = new Lock();
        }

        for (int i = 0; i < _bat.Length; i++)
        {
            if (_bat[i] != VhdLayout.Unallocated)
            {
                _allocatedBytes += BlockLength(i);
            }
        }
    }

    /// <inheritdoc />
    public override string? FilePath => _file.Path;

    /// <inheritdoc />
    public override DiskFormat Format => DiskFormat.Vhd;

    /// <inheritdoc />
    public override DiskType DiskType => _diskType;

    /// <inheritdoc />
    public override long VirtualSize { get; }

    /// <inheritdoc />
    /// <remarks>Always 512: the VHD format has no other sector size.</remarks>
    public override int LogicalSectorSize => SectorSize;

    /// <inheritdoc />
    /// <remarks>
    /// The dynamic header's block size for dynamic and differencing disks. A fixed disk has no blocks: its extents come
    /// from the file system's holes at <see cref="RawDisk.ExtentAlignment"/> (4 KiB) granularity, as for a raw image, and
    /// that is the value reported.
    /// </remarks>
    public override int BlockSize => _diskType == DiskType.Fixed ? RawDisk.ExtentAlignment : _blockSize;

    /// <inheritdoc />
    public override bool IsReadOnly => !_file.IsWritable;

    /// <inheritdoc />
    public override IVirtualDisk? Parent => _parent;

    /// <inheritdoc />
    /// <remarks>A fixed disk counts its whole size; a dynamic or differencing disk the part of its allocated blocks inside the disk.</remarks>
    public override long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);

    /// <summary>The footer's unique id, which a differencing child records as its parent's.</summary>
    internal Guid UniqueId => _layout.Footer.UniqueId;

    /// <summary>The validated structure the disk was opened with.</summary>
    internal VhdLayout Layout => _layout;

    /// <summary>Opens a file already detected as VHD. On failure the caller disposes <paramref name="file"/>.</summary>
    /// <exception cref="InvalidDiskFormatException">The file or its parent is invalid, or the parent does not match.</exception>
    /// <exception cref="ReplicationException">The parent of a differencing disk cannot be found.</exception>
    internal static VhdDisk OpenImage(DiskFile file, DiskOpenContext context)
    {
        VhdLayout layout = VhdLayout.Read(file);
        VirtualDisk? parent = layout.Footer.DiskType == VhdDiskType.Differencing ? OpenParent(file.Path, layout, file, context) : null;
        try
        {
            return new VhdDisk(file, layout, parent);
        }
        catch
        {
            parent?.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override void FlushCore() => _file.Flush();

    /// <inheritdoc />
    /// <remarks>A fixed disk's data is the file's first bytes: the range becomes a hole (fallocate), or zeros where the file system cannot punch one.</remarks>
    protected override ValueTask ZeroCoreAsync(long offset, long length, CancellationToken cancellationToken) =>
        _diskType == DiskType.Fixed && _file.TryPunchHole(offset, length) ? ValueTask.CompletedTask : base.ZeroCoreAsync(offset, length, cancellationToken);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
            _parent?.Dispose();
        }
    }

    /// <summary>Bytes of block <paramref name="block"/> that lie inside the disk (the last block may extend past its end).</summary>
    private long BlockLength(int block) => Math.Min(_blockSize, VirtualSize - ((long)block << _blockShift));

    private bool IsFull(int block) => (Volatile.Read(ref _fullBlocks[block >> 6]) & (1UL << (block & 63))) != 0;

    private void MarkFull(int block) => Interlocked.Or(ref _fullBlocks[block >> 6], 1UL << (block & 63));

    private Lock BlockLock(int block) => _blockLocks[block & (LockStripes - 1)];

    private static long BlockFileOffset(uint entry) => (long)entry << SectorShift;
}
