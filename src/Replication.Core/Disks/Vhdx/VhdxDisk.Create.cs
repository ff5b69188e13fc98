using System.Buffers.Binary;
using System.Numerics;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

internal sealed partial class VhdxDisk
{
    /// <summary>Default block size of fixed and dynamic disks (as Hyper-V uses).</summary>
    public const int DefaultBlockSize = 32 * VhdxLayout.MiB;

    /// <summary>Default block size of differencing disks (as Hyper-V uses).</summary>
    public const int DefaultDifferencingBlockSize = 2 * VhdxLayout.MiB;

    private const string Creator = "Replication.Core";

    // Layout of a new file: header section, log, metadata region, BAT, then payload blocks.
    private const long NewLogOffset = VhdxLayout.HeaderSectionSize;
    private const long NewMetadataOffset = NewLogOffset + VhdxLayout.DefaultLogLength;
    private const int NewMetadataLength = VhdxLayout.MiB;
    private const long NewBatOffset = NewMetadataOffset + NewMetadataLength;

    /// <summary>
    /// Creates a new VHDX file (never overwriting one) and opens it for writing. A fixed disk has every block present
    /// and its file sized up front (sparse where the file system allows); a dynamic disk starts with no block; a
    /// differencing disk points at <see cref="DiskCreateOptions.ParentPath"/>, which must be a VHDX.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid for VHDX.</exception>
    internal static VhdxDisk CreateImage(string fullPath, DiskCreateOptions options, DiskOpenContext context)
    {
        bool differencing = options.Type == DiskType.Differencing;
        int blockSize = options.BlockSize ?? (differencing ? DefaultDifferencingBlockSize : DefaultBlockSize);
        if (blockSize < VhdxLayout.MinBlockSize || blockSize > VhdxLayout.MaxBlockSize || !BitOperations.IsPow2(blockSize))
        {
            throw new ArgumentException($"The VHDX block size {blockSize} must be a power of two between 1 MiB and 256 MiB.", nameof(options));
        }

        int logical = options.LogicalSectorSize;
        int physical = options.PhysicalSectorSize;
        long size = options.VirtualSize;
        Guid virtualDiskId = Guid.NewGuid();
        List<KeyValuePair<string, string>>? locator = null;
        if (differencing)
        {
            using VirtualDisk parent = context.OpenParent(options.ParentPath!, fullPath, 0, "DiskCreateOptions.ParentPath");
            if (parent is not VhdxDisk vhdxParent)
            {
                throw new ArgumentException($"The parent '{parent.FilePath}' is a {parent.Format} image; a differencing VHDX needs a VHDX parent.", nameof(options));
            }

            if (logical != 512 && logical != parent.LogicalSectorSize)
            {
                throw new ArgumentException($"A differencing disk has its parent's {parent.LogicalSectorSize}-byte logical sectors, not {logical}.", nameof(options));
            }

            // Virtual disk metadata (sector sizes, disk id) is inherited from the parent, as a fork does.
            logical = parent.LogicalSectorSize;
            physical = parent.PhysicalSectorSize;
            virtualDiskId = vhdxParent.VirtualDiskId;
            size = size == 0 ? parent.VirtualSize : size;
            locator = [new(VhdxParentLocator.ParentLinkageKey, vhdxParent.DataWriteGuid!.Value.ToString("B"))];
            locator.AddRange(ParentPaths(fullPath, parent.FilePath!));
        }

        if (logical is not (512 or 4096) || physical is not (512 or 4096))
        {
            throw new ArgumentException($"VHDX sector sizes must be 512 or 4096 (logical {logical}, physical {physical}).", nameof(options));
        }

        if (options.RoundUpToMiB)
        {
            size = VhdxLayout.RoundUp(size, VhdxLayout.MiB);
        }

        if (size <= 0 || size % logical != 0 || size > VhdxLayout.MaxVirtualSize)
        {
            throw new ArgumentException($"The virtual size {size} must be a positive multiple of {logical} of at most 64 TiB.", nameof(options));
        }

        DiskFile file = DiskFile.CreateNew(fullPath);
        try
        {
            WriteNewImage(file, options.Type, size, blockSize, logical, physical, virtualDiskId, locator);
            return OpenImage(file, context);
        }
        catch
        {
            file.Dispose();
            File.Delete(fullPath);
            throw;
        }
    }

    private static void WriteNewImage(
        DiskFile file, DiskType type, long size, int blockSize, int logical, int physical, Guid virtualDiskId, List<KeyValuePair<string, string>>? locator)
    {
        bool differencing = type == DiskType.Differencing;
        long chunkRatio = VhdxLayout.SectorsPerBitmapBlock * logical / blockSize;
        long dataBlocks = (size + blockSize - 1) / blockSize;
        long bitmapBlocks = (dataBlocks + chunkRatio - 1) / chunkRatio;
        long entries = differencing ? bitmapBlocks * (chunkRatio + 1) : dataBlocks + ((dataBlocks - 1) / chunkRatio);
        long batLength = VhdxLayout.RoundUp(entries * VhdxBatEntry.Size, VhdxLayout.MiB);
        long payloadStart = NewBatOffset + batLength;

        byte[] buffer = new byte[VhdxLayout.MiB];
        new VhdxFileIdentifier(Creator).WriteTo(buffer);
        file.Write(VhdxLayout.FileIdentifierOffset, buffer.AsSpan(0, VhdxFileIdentifier.Size));

        var header = new VhdxHeader
        {
            SequenceNumber = 0,
            FileWriteGuid = Guid.NewGuid(),
            DataWriteGuid = Guid.NewGuid(),
            LogGuid = Guid.Empty,
            LogVersion = 0,
            Version = VhdxHeader.CurrentVersion,
            LogLength = VhdxLayout.DefaultLogLength,
            LogOffset = (ulong)NewLogOffset,
        };
        header.WriteTo(buffer);
        file.Write(VhdxLayout.Header1Offset, buffer.AsSpan(0, VhdxLayout.HeaderSize));
        (header with { SequenceNumber = 1 }).WriteTo(buffer);
        file.Write(VhdxLayout.Header2Offset, buffer.AsSpan(0, VhdxLayout.HeaderSize));

        var regions = new VhdxRegionTable(
        [
            new VhdxRegionTableEntry(VhdxLayout.BatRegion, (ulong)NewBatOffset, (uint)batLength, 1),
            new VhdxRegionTableEntry(VhdxLayout.MetadataRegion, (ulong)NewMetadataOffset, NewMetadataLength, 1),
        ]);
        regions.WriteTo(buffer);
        file.Write(VhdxLayout.RegionTable1Offset, buffer.AsSpan(0, VhdxLayout.RegionTableSize));
        file.Write(VhdxLayout.RegionTable2Offset, buffer.AsSpan(0, VhdxLayout.RegionTableSize));

        WriteNewMetadata(file, buffer, type, size, blockSize, logical, physical, virtualDiskId, locator);

        // Fixed: every block present, laid out in order after the BAT. Others: every entry zero (not present).
        long end = payloadStart;
        Array.Clear(buffer);
        for (long first = 0; first < entries; first += buffer.Length / VhdxBatEntry.Size)
        {
            int count = (int)Math.Min(buffer.Length / VhdxBatEntry.Size, entries - first);
            if (type == DiskType.Fixed)
            {
                for (int k = 0; k < count; k++)
                {
                    long index = first + k;
                    ulong value = 0;
                    if (index % (chunkRatio + 1) != chunkRatio)
                    {
                        long block = index - (index / (chunkRatio + 1));
                        value = VhdxBatEntry.Create(VhdxBatEntry.PayloadFullyPresent, payloadStart + (block * blockSize)).Value;
                    }

                    BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(k * VhdxBatEntry.Size), value);
                }
            }

            file.Write(NewBatOffset + (first * VhdxBatEntry.Size), buffer.AsSpan(0, count * VhdxBatEntry.Size));
        }

        if (type == DiskType.Fixed)
        {
            end += dataBlocks * blockSize;
        }

        file.SetLength(end);
        file.Flush();
    }

    private static void WriteNewMetadata(
        DiskFile file, byte[] buffer, DiskType type, long size, int blockSize, int logical, int physical, Guid virtualDiskId, List<KeyValuePair<string, string>>? locator)
    {
        const uint Required = VhdxMetadataTableEntry.IsRequiredFlag;
        const uint VirtualDisk = VhdxMetadataTableEntry.IsVirtualDiskFlag;
        Array.Clear(buffer);
        var items = new List<VhdxMetadataTableEntry>();
        uint offset = VhdxLayout.MetadataTableSize;

        new VhdxFileParameters((uint)blockSize, type == DiskType.Fixed, type == DiskType.Differencing).WriteTo(buffer.AsSpan((int)offset));
        items.Add(new VhdxMetadataTableEntry(VhdxLayout.FileParametersItem, offset, VhdxFileParameters.Size, Required));
        offset += VhdxFileParameters.Size;

        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan((int)offset), (ulong)size);
        items.Add(new VhdxMetadataTableEntry(VhdxLayout.VirtualDiskSizeItem, offset, 8, Required | VirtualDisk));
        offset += 8;

        virtualDiskId.TryWriteBytes(buffer.AsSpan((int)offset));
        items.Add(new VhdxMetadataTableEntry(VhdxLayout.VirtualDiskIdItem, offset, 16, Required | VirtualDisk));
        offset += 16;

        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan((int)offset), (uint)logical);
        items.Add(new VhdxMetadataTableEntry(VhdxLayout.LogicalSectorSizeItem, offset, 4, Required | VirtualDisk));
        offset += 4;

        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan((int)offset), (uint)physical);
        items.Add(new VhdxMetadataTableEntry(VhdxLayout.PhysicalSectorSizeItem, offset, 4, Required | VirtualDisk));
        offset += 4;

        if (locator is not null)
        {
            var item = new VhdxParentLocator([.. locator]);
            if (offset + item.Length > NewMetadataLength || locator.Any(p => p.Value.Length > ushort.MaxValue / 2))
            {
                throw new ArgumentException("The parent's paths are too long for the parent locator.");
            }

            item.WriteTo(buffer.AsSpan((int)offset));
            items.Add(new VhdxMetadataTableEntry(VhdxLayout.ParentLocatorItem, offset, (uint)item.Length, Required));
        }

        new VhdxMetadataTable([.. items]).WriteTo(buffer);
        file.Write(NewMetadataOffset, buffer.AsSpan(0, NewMetadataLength));
    }
}
