using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

internal sealed partial class VhdxDisk
{
    private const string BatName = "VHDX BAT";
    private const int MaxUserMetadataItems = 1024;

    /// <summary>
    /// Opens a VHDX file whose signature the factory has seen: headers, log replay, region table, metadata, BAT, and
    /// for a differencing disk its parent through <paramref name="context"/>.
    /// </summary>
    internal static VhdxDisk OpenImage(DiskFile file, DiskOpenContext context)
    {
        ParsedImage image = Parse(file);
        VirtualDisk? parent = image.HasParent ? OpenParentDisk(file, image, context) : null;
        return new VhdxDisk(file, image, parent);
    }

    private static ParsedImage Parse(DiskFile file)
    {
        Span<byte> signature = stackalloc byte[8];
        file.ReadExactly(VhdxLayout.FileIdentifierOffset, signature, "VHDX file identifier.Signature");
        if (BinaryPrimitives.ReadUInt64LittleEndian(signature) != VhdxFileIdentifier.ExpectedSignature)
        {
            throw new InvalidDiskFormatException(file.Path, 0, "VHDX file identifier.Signature", "the file does not start with \"vhdxfile\"");
        }

        VhdxHeaderSlots headers = VhdxHeaderSlots.Read(file);
        VhdxHeader header = headers.Current;
        VhdxLogReplay? replay = null;
        VhdxFileView view;
        if (header.LogGuid != Guid.Empty)
        {
            // The log must be replayed before anything but the headers and the log is read.
            replay = VhdxLogReplay.Find(file, (long)header.LogOffset, (int)header.LogLength, header.LogGuid);
            if (file.IsWritable)
            {
                // The headers are updated (renewing FileWriteGuid) before any other part of the file is modified.
                headers.Update(h => h);
                replay.ApplyTo(file);
                headers.Update(h => h with { LogGuid = Guid.Empty });
                view = new VhdxFileView(file, null);
            }
            else
            {
                view = new VhdxFileView(file, replay);
            }
        }
        else
        {
            view = new VhdxFileView(file, null);
        }

        var occupied = new OccupancyMap(view.Path, view.Length);
        occupied.Mark(0, VhdxLayout.HeaderSectionSize, 0, "VHDX header section");
        if (header.LogLength > 0)
        {
            occupied.Mark((long)header.LogOffset, header.LogLength, VhdxLayout.Header1Offset + (headers.CurrentSlot * VhdxLayout.Header1Offset) + VhdxHeader.LogOffsetOffset, "VHDX log");
        }

        (VhdxRegionTableEntry bat, VhdxRegionTableEntry metadata) = ReadRegionTable(view, occupied);
        var image = new ParsedImage { View = view, Headers = headers, LogReplay = replay, BatOffset = (long)bat.FileOffset };
        ReadMetadata(view, (long)metadata.FileOffset, metadata.Length, image);
        image.Bat = ReadBat(view, (long)bat.FileOffset, bat.Length, image, occupied);
        return image;
    }

    private static (VhdxRegionTableEntry Bat, VhdxRegionTableEntry Metadata) ReadRegionTable(VhdxFileView view, OccupancyMap occupied)
    {
        byte[] buffer = new byte[VhdxLayout.RegionTableSize];
        long[] offsets = [VhdxLayout.RegionTable1Offset, VhdxLayout.RegionTable2Offset];
        string[] failures = new string[2];
        VhdxRegionTable table = default;
        int used = -1;
        for (int copy = 0; copy < 2 && used < 0; copy++)
        {
            view.Read(offsets[copy], buffer, $"VHDX region table {copy + 1}");
            if (VhdxRegionTable.TryRead(buffer, out table, out failures[copy]))
            {
                used = copy;
            }
            else if (failures[copy] == "EntryCount")
            {
                // A valid checksum over a bad count is corruption of content, not a torn write: do not fall back.
                throw new InvalidDiskFormatException(
                    view.Path,
                    offsets[copy] + VhdxRegionTable.EntryCountOffset,
                    $"VHDX region table {copy + 1}.EntryCount",
                    $"more than {VhdxRegionTable.MaxEntries} entries");
            }
        }

        if (used < 0)
        {
            throw new InvalidDiskFormatException(
                view.Path,
                VhdxLayout.RegionTable1Offset,
                $"VHDX region table 1.{failures[0]}",
                $"neither region table is valid: table 1 has a bad {failures[0]} and table 2 a bad {failures[1]}");
        }

        string name = $"VHDX region table {used + 1}";
        long fileLength = view.Length;
        VhdxRegionTableEntry? bat = null, metadata = null;
        var seen = new HashSet<Guid>();
        for (int i = 0; i < table.Entries.Length; i++)
        {
            VhdxRegionTableEntry entry = table.Entries[i];
            long at = offsets[used] + VhdxRegionTable.EntriesOffset + (i * VhdxRegionTableEntry.Size);
            string field = $"{name}.Entry[{i}]";
            if (!seen.Add(entry.Guid))
            {
                throw new InvalidDiskFormatException(view.Path, at, field + ".Guid", $"region {entry.Guid} appears twice");
            }

            if (entry.FileOffset < VhdxLayout.HeaderSectionSize || entry.FileOffset > VhdxLayout.MaxFileOffset || !VhdxLayout.IsAligned((long)entry.FileOffset, VhdxLayout.MiB))
            {
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxRegionTableEntry.FileOffsetOffset, field + ".FileOffset", $"{entry.FileOffset} is not a 1 MiB-aligned offset after the header section");
            }

            if (entry.Length == 0 || !VhdxLayout.IsAligned(entry.Length, VhdxLayout.MiB))
            {
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxRegionTableEntry.LengthOffset, field + ".Length", $"{entry.Length} is not a non-zero multiple of 1 MiB");
            }

            VhdxLayout.CheckInsideFile(view.Path, at + VhdxRegionTableEntry.LengthOffset, field + ".Length", "region", entry.FileOffset, entry.Length, fileLength);
            if (entry.Guid == VhdxLayout.BatRegion)
            {
                bat = entry;
            }
            else if (entry.Guid == VhdxLayout.MetadataRegion)
            {
                metadata = entry;
            }
            else if (entry.IsRequired)
            {
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxRegionTableEntry.RequiredOffset, field + ".Required", $"region {entry.Guid} is required but not known to this implementation");
            }

            occupied.Mark((long)entry.FileOffset, entry.Length, at + VhdxRegionTableEntry.FileOffsetOffset, field + ".FileOffset");
        }

        if (bat is null || metadata is null)
        {
            throw new InvalidDiskFormatException(
                view.Path, offsets[used] + VhdxRegionTable.EntryCountOffset, name + ".EntryCount", $"the {(bat is null ? "BAT" : "metadata")} region is missing");
        }

        return (bat.Value, metadata.Value);
    }

    private static void ReadMetadata(VhdxFileView view, long regionOffset, uint regionLength, ParsedImage image)
    {
        byte[] buffer = new byte[VhdxLayout.MetadataTableSize];
        view.Read(regionOffset, buffer, "VHDX metadata table");
        if (!VhdxMetadataTable.TryRead(buffer, out VhdxMetadataTable table, out string failed))
        {
            throw new InvalidDiskFormatException(
                view.Path,
                regionOffset + (failed == "EntryCount" ? VhdxMetadataTable.EntryCountOffset : 0),
                "VHDX metadata table." + failed,
                failed == "EntryCount" ? $"more than {VhdxMetadataTable.MaxEntries} entries" : "the signature is not \"metadata\"");
        }

        var known = new Dictionary<Guid, (VhdxMetadataTableEntry Entry, long At)>();
        var seen = new HashSet<(Guid, bool)>();
        var ranges = new List<(long Start, long End, int Index)>();
        int userItems = 0;
        for (int i = 0; i < table.Entries.Length; i++)
        {
            VhdxMetadataTableEntry entry = table.Entries[i];
            long at = regionOffset + VhdxMetadataTable.EntriesOffset + (i * VhdxMetadataTableEntry.Size);
            string field = $"VHDX metadata table.Entry[{i}]";
            if (entry.IsUser && ++userItems > MaxUserMetadataItems)
            {
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxMetadataTableEntry.FlagsOffset, field + ".IsUser", $"more than {MaxUserMetadataItems} items are user metadata");
            }

            if (!seen.Add((entry.ItemId, entry.IsUser)))
            {
                throw new InvalidDiskFormatException(view.Path, at, field + ".ItemId", $"item {entry.ItemId} appears twice");
            }

            if (entry.Length == 0)
            {
                if (entry.Offset != 0)
                {
                    throw new InvalidDiskFormatException(view.Path, at + VhdxMetadataTableEntry.OffsetOffset, field + ".Offset", "an empty item must have offset 0");
                }
            }
            else if (entry.Offset < VhdxLayout.MetadataTableSize || entry.Length > VhdxLayout.MaxMetadataItemLength || (long)entry.Offset + entry.Length > regionLength)
            {
                throw new InvalidDiskFormatException(
                    view.Path,
                    at + VhdxMetadataTableEntry.OffsetOffset,
                    field + ".Offset",
                    $"item [{entry.Offset}, {(long)entry.Offset + entry.Length}) is not inside the {regionLength}-byte metadata region after its table, or longer than 1 MiB");
            }
            else
            {
                ranges.Add((entry.Offset, (long)entry.Offset + entry.Length, i));
            }

            bool isKnown = !entry.IsUser && IsKnownItem(entry.ItemId);
            if (isKnown)
            {
                known[entry.ItemId] = (entry, at);
            }
            else if (entry.IsRequired)
            {
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxMetadataTableEntry.FlagsOffset, field + ".IsRequired", $"item {entry.ItemId} is required but not known to this implementation");
            }
        }

        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < ranges.Count; i++)
        {
            if (ranges[i].Start < ranges[i - 1].End)
            {
                long at = regionOffset + VhdxMetadataTable.EntriesOffset + (ranges[i].Index * VhdxMetadataTableEntry.Size);
                throw new InvalidDiskFormatException(
                    view.Path, at + VhdxMetadataTableEntry.OffsetOffset, $"VHDX metadata table.Entry[{ranges[i].Index}].Offset", $"the item overlaps item {ranges[i - 1].Index}");
            }
        }

        byte[] item = new byte[16];
        long fileParameters = ReadItem(view, regionOffset, known, VhdxLayout.FileParametersItem, "file parameters", VhdxFileParameters.Size, item);
        var parameters = VhdxFileParameters.Read(item);
        if (parameters.BlockSize < VhdxLayout.MinBlockSize || parameters.BlockSize > VhdxLayout.MaxBlockSize || !BitOperations.IsPow2(parameters.BlockSize))
        {
            throw new InvalidDiskFormatException(
                view.Path, fileParameters, "VHDX file parameters.BlockSize", $"{parameters.BlockSize} is not a power of two between 1 MiB and 256 MiB");
        }

        long logicalAt = ReadItem(view, regionOffset, known, VhdxLayout.LogicalSectorSizeItem, "logical sector size", 4, item);
        uint logical = BinaryPrimitives.ReadUInt32LittleEndian(item);
        if (logical is not (512 or 4096))
        {
            throw new InvalidDiskFormatException(view.Path, logicalAt, "VHDX logical sector size.LogicalSectorSize", $"{logical} is neither 512 nor 4096");
        }

        long physicalAt = ReadItem(view, regionOffset, known, VhdxLayout.PhysicalSectorSizeItem, "physical sector size", 4, item);
        uint physical = BinaryPrimitives.ReadUInt32LittleEndian(item);
        if (physical is not (512 or 4096))
        {
            throw new InvalidDiskFormatException(view.Path, physicalAt, "VHDX physical sector size.PhysicalSectorSize", $"{physical} is neither 512 nor 4096");
        }

        long sizeAt = ReadItem(view, regionOffset, known, VhdxLayout.VirtualDiskSizeItem, "virtual disk size", 8, item);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(item);
        if (size == 0 || size > VhdxLayout.MaxVirtualSize || size % logical != 0)
        {
            throw new InvalidDiskFormatException(
                view.Path, sizeAt, "VHDX virtual disk size.VirtualDiskSize", $"{size} is not a non-zero multiple of the {logical}-byte sector of at most 64 TiB");
        }

        ReadItem(view, regionOffset, known, VhdxLayout.VirtualDiskIdItem, "virtual disk id", 16, item);
        image.VirtualDiskId = new Guid(item);
        image.BlockSize = (int)parameters.BlockSize;
        image.LeaveBlockAllocated = parameters.LeaveBlockAllocated;
        image.HasParent = parameters.HasParent;
        image.LogicalSectorSize = (int)logical;
        image.PhysicalSectorSize = (int)physical;
        image.VirtualSize = (long)size;
        image.ChunkRatio = (VhdxLayout.SectorsPerBitmapBlock * logical) / parameters.BlockSize;
        image.DataBlockCount = ((long)size + parameters.BlockSize - 1) / parameters.BlockSize;

        if (parameters.HasParent)
        {
            if (!known.TryGetValue(VhdxLayout.ParentLocatorItem, out var locator))
            {
                throw new InvalidDiskFormatException(
                    view.Path, fileParameters, "VHDX file parameters.HasParent", "the disk has a parent but the metadata holds no parent locator");
            }

            byte[] bytes = new byte[locator.Entry.Length];
            long at = regionOffset + locator.Entry.Offset;
            view.Read(at, bytes, "VHDX parent locator");
            image.Locator = VhdxParentLocator.Read(bytes, view.Path, at);
            image.LocatorOffset = at;
        }
    }

    private static bool IsKnownItem(Guid id) =>
        id == VhdxLayout.FileParametersItem
        || id == VhdxLayout.VirtualDiskSizeItem
        || id == VhdxLayout.VirtualDiskIdItem
        || id == VhdxLayout.LogicalSectorSizeItem
        || id == VhdxLayout.PhysicalSectorSizeItem
        || id == VhdxLayout.ParentLocatorItem;

    /// <summary>Reads the first <paramref name="size"/> bytes of a required item into <paramref name="buffer"/> and returns its file offset.</summary>
    private static long ReadItem(
        VhdxFileView view, long regionOffset, Dictionary<Guid, (VhdxMetadataTableEntry Entry, long At)> known, Guid id, string name, int size, byte[] buffer)
    {
        if (!known.TryGetValue(id, out var item))
        {
            throw new InvalidDiskFormatException(
                view.Path, regionOffset, "VHDX metadata table", $"the required {name} item ({id}) is missing");
        }

        if (item.Entry.Length < size)
        {
            throw new InvalidDiskFormatException(
                view.Path, item.At + VhdxMetadataTableEntry.LengthOffset, $"VHDX metadata table.{name}.Length", $"{item.Entry.Length} bytes is shorter than the {size} bytes of the item");
        }

        long at = regionOffset + item.Entry.Offset;
        view.Read(at, buffer.AsSpan(0, size), "VHDX " + name);
        return at;
    }

    private static ulong[] ReadBat(VhdxFileView view, long batOffset, uint batLength, ParsedImage image, OccupancyMap occupied)
    {
        long chunkRatio = image.ChunkRatio;
        long dataBlocks = image.DataBlockCount;
        long bitmapBlocks = (dataBlocks + chunkRatio - 1) / chunkRatio;
        long total = image.HasParent ? bitmapBlocks * (chunkRatio + 1) : dataBlocks + ((dataBlocks - 1) / chunkRatio);
        if (total * VhdxBatEntry.Size > batLength)
        {
            throw new InvalidDiskFormatException(
                view.Path, batOffset, BatName, $"the {batLength}-byte BAT region cannot hold the {total} entries a {image.VirtualSize}-byte disk with {image.BlockSize}-byte blocks needs");
        }

        var bat = new ulong[total];
        // Read in pieces of at most 1 MiB through a pooled buffer: a small disk's table is a few KiB, opened on every copy.
        int perRead = (int)Math.Min(VhdxLayout.MiB / VhdxBatEntry.Size, total);
        byte[] chunk = ArrayPool<byte>.Shared.Rent(perRead * VhdxBatEntry.Size);
        long fileLength = view.Length;
        bool chunkHasPartial = false;
        try
        {
            for (long first = 0; first < total; first += perRead)
            {
                int count = (int)Math.Min(perRead, total - first);
                view.Read(batOffset + (first * VhdxBatEntry.Size), chunk.AsSpan(0, count * VhdxBatEntry.Size), BatName);
                for (int k = 0; k < count; k++)
                {
                    long index = first + k;
                    var entry = VhdxBatEntry.Read(chunk.AsSpan(k * VhdxBatEntry.Size));
                    bat[index] = entry.Value;
                    long at = batOffset + (index * VhdxBatEntry.Size);
                    bool isBitmap = index % (chunkRatio + 1) == chunkRatio;
                    if (isBitmap)
                    {
                        ValidateBitmapEntry(view, entry, index, at, image.HasParent, chunkHasPartial, fileLength, occupied);
                        chunkHasPartial = false;
                    }
                    else
                    {
                        long block = index - (index / (chunkRatio + 1));
                        chunkHasPartial |= ValidatePayloadEntry(view, entry, index, block, at, image, fileLength, occupied);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return bat;
    }

    /// <summary>Validates a payload entry and returns true when it is partially present.</summary>
    private static bool ValidatePayloadEntry(
        VhdxFileView view, VhdxBatEntry entry, long index, long block, long at, ParsedImage image, long fileLength, OccupancyMap occupied)
    {
        string field = $"{BatName} entry[{index}]";
        switch (entry.State)
        {
            case VhdxBatEntry.PayloadNotPresent:
            case VhdxBatEntry.PayloadUndefined:
            case VhdxBatEntry.PayloadZero:
            case VhdxBatEntry.PayloadUnmapped:
                return false;
            case VhdxBatEntry.PayloadFullyPresent:
            case VhdxBatEntry.PayloadPartiallyPresent when image.HasParent:
                break;
            default:
                throw new InvalidDiskFormatException(
                    view.Path, at, field + ".State", $"state {entry.State} is not a valid payload block state for a {(image.HasParent ? "differencing" : "fixed or dynamic")} disk");
        }

        if (block >= image.DataBlockCount)
        {
            // Slots past the end of the virtual disk (the last chunk of a differencing disk) are never used.
            return entry.State == VhdxBatEntry.PayloadPartiallyPresent;
        }

        // Only the part of the last block inside the virtual disk has to be in the file.
        long used = Math.Min(image.BlockSize, image.VirtualSize - (block * image.BlockSize));
        if (entry.FileOffset < VhdxLayout.HeaderSectionSize || entry.FileOffset > (ulong)Math.Max(0, fileLength - used))
        {
            throw new InvalidDiskFormatException(
                view.Path, at, field + ".FileOffset", $"payload block {block} at {entry.FileOffset} does not lie after the header section and inside the {fileLength}-byte file");
        }

        occupied.Mark((long)entry.FileOffset, Math.Min(image.BlockSize, fileLength - (long)entry.FileOffset), at, field + ".FileOffset");
        return entry.State == VhdxBatEntry.PayloadPartiallyPresent;
    }

    private static void ValidateBitmapEntry(
        VhdxFileView view, VhdxBatEntry entry, long index, long at, bool hasParent, bool chunkHasPartial, long fileLength, OccupancyMap occupied)
    {
        string field = $"{BatName} entry[{index}]";
        if (entry.State == VhdxBatEntry.BitmapNotPresent)
        {
            if (chunkHasPartial)
            {
                throw new InvalidDiskFormatException(
                    view.Path, at, field + ".State", "the sector bitmap block is not present but a payload block of its chunk is partially present");
            }

            return;
        }

        if (entry.State != VhdxBatEntry.BitmapPresent || !hasParent)
        {
            throw new InvalidDiskFormatException(
                view.Path, at, field + ".State", $"state {entry.State} is not a valid sector bitmap state for a {(hasParent ? "differencing" : "fixed or dynamic")} disk");
        }

        if (entry.FileOffset < VhdxLayout.HeaderSectionSize || entry.FileOffset > (ulong)Math.Max(0, fileLength - VhdxLayout.SectorBitmapBlockSize))
        {
            throw new InvalidDiskFormatException(
                view.Path, at, field + ".FileOffset", $"the sector bitmap block at {entry.FileOffset} does not lie after the header section and inside the {fileLength}-byte file");
        }

        occupied.Mark((long)entry.FileOffset, VhdxLayout.SectorBitmapBlockSize, at, field + ".FileOffset");
    }

    /// <summary>What parsing found, handed to the constructor.</summary>
    private sealed class ParsedImage
    {
        public required VhdxFileView View { get; init; }

        public required VhdxHeaderSlots Headers { get; init; }

        public VhdxLogReplay? LogReplay { get; init; }

        public long BatOffset { get; init; }

        public ulong[] Bat { get; set; } = [];

        public int BlockSize { get; set; }

        public bool LeaveBlockAllocated { get; set; }

        public bool HasParent { get; set; }

        public long VirtualSize { get; set; }

        public int LogicalSectorSize { get; set; }

        public int PhysicalSectorSize { get; set; }

        public long ChunkRatio { get; set; }

        public long DataBlockCount { get; set; }

        public Guid VirtualDiskId { get; set; }

        public VhdxParentLocator? Locator { get; set; }

        public long LocatorOffset { get; set; }
    }

    /// <summary>
    /// Which 1 MiB units of the file are taken, to reject structures and blocks that overlap. Everything VHDX places
    /// in the file is 1 MiB aligned; the map is sized by the file's length, never by a field.
    /// </summary>
    private sealed class OccupancyMap
    {
        private readonly string _path;
        private readonly ulong[] _bits;
        private readonly long _units;

        public OccupancyMap(string path, long fileLength)
        {
            _path = path;
            _units = (fileLength + VhdxLayout.MiB - 1) / VhdxLayout.MiB;
            _bits = new ulong[(_units + 63) / 64];
        }

        /// <summary>Marks [offset, offset + length) as taken, or throws naming <paramref name="field"/> when any of it already is.</summary>
        public void Mark(long offset, long length, long fieldOffset, string field)
        {
            long first = offset / VhdxLayout.MiB;
            long end = Math.Min(_units, (offset + length + VhdxLayout.MiB - 1) / VhdxLayout.MiB);
            for (long unit = first; unit < end; unit++)
            {
                ulong mask = 1UL << (int)(unit & 63);
                if ((_bits[unit >> 6] & mask) != 0)
                {
                    throw new InvalidDiskFormatException(
                        _path, fieldOffset, field, $"[{offset}, {offset + length}) overlaps another structure or block at {unit * VhdxLayout.MiB}");
                }

                _bits[unit >> 6] |= mask;
            }
        }
    }
}
