using System.Buffers;
using Replication.Core.IO;
using System.Runtime.CompilerServices;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// A VHDX image ([MS-VHDX]): fixed, dynamic or differencing, read and written at any offset and length.
/// </summary>
/// <remarks>
/// <para>
/// Opening validates every structure before use (signatures, checksums, and every field that locates or sizes
/// something) and throws <see cref="InvalidDiskFormatException"/> naming the file, offset and field. A file whose
/// header has a non-zero LogGuid has its log replayed first: written back to the file on a writable open, or laid
/// over the file in memory on a read-only open (the file is not modified).
/// </para>
/// <para>
/// Writes to allocated blocks go straight to the file. A write that needs a new block (or, in a differencing disk,
/// new sector bitmap bits) appends the block at the end of the file, writes the data, flushes, and then updates the
/// BAT and sector bitmap through the log: log entry, flush, final location, flush. A crash at any point leaves
/// either the old or the new metadata. The header's LogGuid stays set while the disk is open and is cleared by a
/// clean <see cref="VirtualDisk.Dispose()"/>.
/// </para>
/// <para>
/// <see cref="DataWriteGuid"/> is renewed, with a header update, before the first data write of each open; the
/// first header update of an open also renews FileWriteGuid.
/// </para>
/// <para>
/// Log replay finishes metadata updates the previous writer had already made visible, so it does not renew
/// DataWriteGuid. A file whose header names a log with no valid entry sequence is refused, as the specification
/// requires; this implementation never leaves one (it writes an empty entry under a new LogGuid before publishing
/// the GUID). Logs longer than 32 MiB are not replayed (Hyper-V and qemu write 1 MiB logs).
/// </para>
/// <para>
/// A differencing disk stores parent_linkage (the parent's DataWriteGuid), relative_path ('\' separators) and
/// absolute_win32_path: <c>\\?\C:\...</c> on Windows; on other systems <c>\\?\</c> followed by the POSIX path with
/// '\' separators, which only this library resolves back (Windows readers fall back to relative_path). A parent is
/// looked for by relative_path, then volume_path and absolute_win32_path where they can name a file on this
/// system; its DataWriteGuid must equal parent_linkage or parent_linkage2. Stale paths are not rewritten.
/// </para>
/// <para>
/// Reads and writes of disjoint ranges may run concurrently; allocation, log and header updates are serialised.
/// The BAT is held in memory (8 bytes per block).
/// </para>
/// </remarks>
internal sealed partial class VhdxDisk : VirtualDisk
{
    private readonly DiskFile _file;
    private readonly VhdxFileView _view;
    private readonly VhdxHeaderSlots _headers;
    private readonly VhdxLogWriter _log;
    private readonly VirtualDisk? _parent;
    private readonly ulong[] _bat;
    private readonly long _batOffset;
    private readonly int _blockSize;
    private readonly int _logicalSectorSize;
    private readonly int _physicalSectorSize;
    private readonly long _virtualSize;
    private readonly long _chunkRatio;
    private readonly long _dataBlockCount;
    private readonly int _sectorsPerBlock;
    private readonly bool _hasParent;
    private readonly bool _leaveBlockAllocated;
    private readonly Lock _lock = new();

    private volatile bool _dataWriteGuidRenewed;
    private volatile bool _failed;
    private long _fileEnd;

    private VhdxDisk(DiskFile file, ParsedImage image, VirtualDisk? parent)
    {
        _file = file;
        _view = image.View;
        _headers = image.Headers;
        _parent = parent;
        _bat = image.Bat;
        _batOffset = image.BatOffset;
        _blockSize = image.BlockSize;
        _logicalSectorSize = image.LogicalSectorSize;
        _physicalSectorSize = image.PhysicalSectorSize;
        _virtualSize = image.VirtualSize;
        _chunkRatio = image.ChunkRatio;
        _dataBlockCount = image.DataBlockCount;
        _sectorsPerBlock = image.BlockSize / image.LogicalSectorSize;
        _hasParent = image.HasParent;
        _leaveBlockAllocated = image.LeaveBlockAllocated;
        VirtualDiskId = image.VirtualDiskId;
        LogReplay = image.LogReplay;
        VhdxHeader header = _headers.Current;
        _log = new VhdxLogWriter(file, (long)header.LogOffset, (int)header.LogLength);
        _fileEnd = VhdxLayout.RoundUp(_view.Length, VhdxLayout.MiB);
    }

    /// <inheritdoc />
    public override string? FilePath => _file.Path;

    /// <inheritdoc />
    public override DiskFormat Format => DiskFormat.Vhdx;

    /// <inheritdoc />
    /// <remarks>Differencing when HasParent is set, fixed when LeaveBlockAllocated is set, dynamic otherwise.</remarks>
    public override DiskType DiskType => _hasParent ? DiskType.Differencing : _leaveBlockAllocated ? DiskType.Fixed : DiskType.Dynamic;

    /// <inheritdoc />
    public override long VirtualSize => _virtualSize;

    /// <inheritdoc />
    public override int LogicalSectorSize => _logicalSectorSize;

    /// <inheritdoc />
    public override int PhysicalSectorSize => _physicalSectorSize;

    /// <inheritdoc />
    /// <remarks>The payload block size of the file (1 MiB to 256 MiB).</remarks>
    public override int BlockSize => _blockSize;

    /// <inheritdoc />
    public override bool IsReadOnly => !_file.IsWritable;

    /// <inheritdoc />
    public override IVirtualDisk? Parent => _parent;

    /// <inheritdoc />
    /// <remarks>The current header's DataWriteGuid; it changes when the first data write of an open lands.</remarks>
    public override Guid? DataWriteGuid => _headers.Current.DataWriteGuid;

    /// <inheritdoc />
    /// <remarks>Payload blocks that are fully or partially present in this file, the last one clipped to the virtual size.</remarks>
    public override long AllocatedBytes
    {
        get
        {
            long total = 0;
            for (long block = 0; block < _dataBlockCount; block++)
            {
                int state = PayloadEntry(block).State;
                if (state is VhdxBatEntry.PayloadFullyPresent or VhdxBatEntry.PayloadPartiallyPresent)
                {
                    total += Math.Min(_blockSize, _virtualSize - (block * _blockSize));
                }
            }

            return total;
        }
    }

    /// <summary>The virtual disk id (page 83 data).</summary>
    internal Guid VirtualDiskId { get; }

    /// <summary>The log replayed when this disk was opened (written back, or held in memory for a read-only open), or null.</summary>
    internal VhdxLogReplay? LogReplay { get; }

    /// <summary>True when reads go through an in-memory replay of the log (read-only open of a file that needed replay).</summary>
    internal bool IsLogReplayedInMemory => _view.HasOverlay;

    /// <summary>The current header, for tests and diagnostics.</summary>
    internal VhdxHeader CurrentHeader => _headers.Current;

    /// <summary>Which header slot is current (0 or 1).</summary>
    internal int CurrentHeaderSlot => _headers.CurrentSlot;

    /// <summary>
    /// Test hook: called with a named point of the metadata update ("before-log-write", "after-log-flush",
    /// "after-final-write"); an exception thrown here acts like a crash at that point (the disk stops accepting
    /// writes and is closed without clearing the log).
    /// </summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>The BAT entry of payload block <paramref name="block"/>.</summary>
    internal VhdxBatEntry PayloadEntry(long block) => new(Volatile.Read(ref _bat[PayloadIndex(block)]));

    /// <inheritdoc />
    protected override void ReadCore(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long block = offset / _blockSize;
            int inBlock = (int)(offset % _blockSize);
            int count = (int)Math.Min(destination.Length, _blockSize - inBlock);
            Span<byte> part = destination[..count];
            VhdxBatEntry entry = PayloadEntry(block);
            switch (entry.State)
            {
                case VhdxBatEntry.PayloadFullyPresent:
                    _view.Read((long)entry.FileOffset + inBlock, part, "VHDX payload block");
                    break;
                case VhdxBatEntry.PayloadPartiallyPresent:
                    ReadPartiallyPresent(block, entry, inBlock, part);
                    break;
                case VhdxBatEntry.PayloadNotPresent when _parent is not null:
                    ReadParent(offset, part);
                    break;
                default:
                    // Zero, unmapped and undefined blocks, and absent blocks without a parent, read as zeros.
                    part.Clear();
                    break;
            }

            offset += count;
            destination = destination[count..];
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Fully present blocks (without a log overlay to lay over them) and a parent's data are read asynchronously; a partly
    /// present block is read as <see cref="ReadCore"/> does (its sector bitmap, then runs of sectors).
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (!destination.IsEmpty)
        {
            long block = offset / _blockSize;
            int inBlock = (int)(offset % _blockSize);
            int count = (int)Math.Min(destination.Length, _blockSize - inBlock);
            Memory<byte> part = destination[..count];
            VhdxBatEntry entry = PayloadEntry(block);
            switch (entry.State)
            {
                case VhdxBatEntry.PayloadFullyPresent when !_view.HasOverlay:
                    await _file.ReadExactlyAsync((long)entry.FileOffset + inBlock, part, "VHDX payload block", cancellationToken).ConfigureAwait(false);
                    break;
                case VhdxBatEntry.PayloadFullyPresent:
                    _view.Read((long)entry.FileOffset + inBlock, part.Span, "VHDX payload block");
                    break;
                case VhdxBatEntry.PayloadPartiallyPresent:
                    ReadPartiallyPresent(block, entry, inBlock, part.Span);
                    break;
                case VhdxBatEntry.PayloadNotPresent when _parent is not null:
                    await ReadParentAsync(offset, part, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    part.Span.Clear();
                    break;
            }

            offset += count;
            destination = destination[count..];
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// A flush also empties the metadata log (its entries are all applied and flushed by then) and clears the header's
    /// LogGuid, so a flushed disk is the same file its later clean close leaves: a stamp taken after the flush (a stored
    /// manifest's) still matches once the disk is closed.
    /// </remarks>
    protected override void FlushCore()
    {
        lock (_lock)
        {
            _file.Flush();
            StopLogLocked();
        }
    }

    /// <summary>Every log entry is applied and flushed: the log is emptied in the header (and the file flushed) until the next allocation starts it again.</summary>
    private void StopLogLocked()
    {
        if (_file.IsWritable && !_failed && _log.IsActive)
        {
            _headers.Update(h => h with { LogGuid = Guid.Empty });
            _log.Stop();
            _file.Flush();
        }
    }

    /// <inheritdoc />
    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length)
    {
        long end = offset + length;
        long pendingStart = -1, pendingEnd = -1;
        long block = offset / _blockSize;
        while (block * _blockSize < end)
        {
            long start = Math.Max(offset, block * _blockSize);
            int state = PayloadEntry(block).State;
            if (state is VhdxBatEntry.PayloadFullyPresent or VhdxBatEntry.PayloadPartiallyPresent)
            {
                long stop = Math.Min(end, (block + 1) * _blockSize);
                if (pendingEnd == start)
                {
                    pendingEnd = stop;
                }
                else
                {
                    if (pendingEnd > pendingStart)
                    {
                        yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
                    }

                    (pendingStart, pendingEnd) = (start, stop);
                }

                block++;
                continue;
            }

            if (state == VhdxBatEntry.PayloadNotPresent && _parent is not null)
            {
                // Ask the parent once for the whole run of absent blocks.
                long runEnd = block + 1;
                while (runEnd * _blockSize < end && PayloadEntry(runEnd).State == VhdxBatEntry.PayloadNotPresent)
                {
                    runEnd++;
                }

                long stop = Math.Min(Math.Min(end, runEnd * _blockSize), _parent.VirtualSize);
                if (stop > start)
                {
                    foreach (DiskExtent extent in _parent.GetAllocatedExtents(start, stop - start))
                    {
                        if (pendingEnd == extent.Offset)
                        {
                            pendingEnd = extent.End;
                        }
                        else
                        {
                            if (pendingEnd > pendingStart)
                            {
                                yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
                            }

                            (pendingStart, pendingEnd) = (extent.Offset, extent.End);
                        }
                    }
                }

                block = runEnd;
                continue;
            }

            block++;
        }

        if (pendingEnd > pendingStart)
        {
            yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        try
        {
            lock (_lock)
            {
                if (_file.IsWritable && !_failed && _headers.HasUpdated)
                {
                    _file.Flush();
                    StopLogLocked();
                }
            }
        }
        finally
        {
            _file.Dispose();
            _parent?.Dispose();
        }
    }

    private long PayloadIndex(long block) => block + (block / _chunkRatio);

    private long BitmapIndex(long chunk) => (chunk * (_chunkRatio + 1)) + _chunkRatio;

    private bool IsBitmapIndex(long index) => index % (_chunkRatio + 1) == _chunkRatio;

    /// <summary>File offset of the first sector bitmap byte of <paramref name="block"/>, inside its chunk's bitmap block.</summary>
    private long BitmapByteOffset(long bitmapBlockOffset, long block) => bitmapBlockOffset + ((block % _chunkRatio) * _sectorsPerBlock / 8);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadParentAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        long available = Math.Max(0, Math.Min(destination.Length, _parent!.VirtualSize - offset));
        if (available > 0)
        {
            await _parent.ReadAsync(offset, destination[..(int)available], cancellationToken).ConfigureAwait(false);
        }

        destination.Span[(int)available..].Clear();
    }

    private void ReadParent(long offset, Span<byte> destination)
    {
        // A parent smaller than the child reads as zeros past its end.
        long available = Math.Max(0, Math.Min(destination.Length, _parent!.VirtualSize - offset));
        if (available > 0)
        {
            _parent.Read(offset, destination[..(int)available]);
        }

        destination[(int)available..].Clear();
    }

    private void ReadPartiallyPresent(long block, VhdxBatEntry entry, int inBlock, Span<byte> destination)
    {
        int sectorSize = _logicalSectorSize;
        int firstSector = inBlock / sectorSize;
        int endSector = (inBlock + destination.Length + sectorSize - 1) / sectorSize;
        int firstByte = firstSector / 8;
        int byteCount = ((endSector + 7) / 8) - firstByte;
        long bitmapIndex = BitmapIndex(block / _chunkRatio);
        VhdxBatEntry bitmapEntry = new(Volatile.Read(ref _bat[bitmapIndex]));
        if (bitmapEntry.State != VhdxBatEntry.BitmapPresent)
        {
            // Opening validated this and writers publish bitmap entries first, so only a bug could get here.
            throw new InvalidDiskFormatException(
                _file.Path, _batOffset + (bitmapIndex * VhdxBatEntry.Size), $"{BatName} entry[{bitmapIndex}].State", "a partially present block has no sector bitmap block");
        }
        byte[] bitmap = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            _view.Read(BitmapByteOffset((long)bitmapEntry.FileOffset, block) + firstByte, bitmap.AsSpan(0, byteCount), "VHDX sector bitmap");
            int sector = firstSector;
            while (sector < endSector)
            {
                bool present = IsBitSet(bitmap, sector - (firstByte * 8));
                int runEnd = FindRunEnd(bitmap, sector - (firstByte * 8), endSector - (firstByte * 8), present) + (firstByte * 8);
                int start = Math.Max(inBlock, sector * sectorSize);
                int stop = Math.Min(inBlock + destination.Length, runEnd * sectorSize);
                Span<byte> part = destination.Slice(start - inBlock, stop - start);
                if (present)
                {
                    _view.Read((long)entry.FileOffset + start, part, "VHDX payload block");
                }
                else
                {
                    ReadParent((block * _blockSize) + start, part);
                }

                sector = runEnd;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bitmap);
        }
    }

    private static bool IsBitSet(ReadOnlySpan<byte> bitmap, int bit) => (bitmap[bit >> 3] & (1 << (bit & 7))) != 0;

    /// <summary>First bit at or after <paramref name="bit"/> (before <paramref name="end"/>) whose value is not <paramref name="value"/>; whole bytes are skipped at once.</summary>
    private static int FindRunEnd(ReadOnlySpan<byte> bitmap, int bit, int end, bool value)
    {
        byte full = value ? (byte)0xFF : (byte)0;
        while (bit < end)
        {
            if ((bit & 7) == 0 && bit + 8 <= end && bitmap[bit >> 3] == full)
            {
                bit += 8;
                continue;
            }

            if (IsBitSet(bitmap, bit) != value)
            {
                break;
            }

            bit++;
        }

        return bit;
    }
}
