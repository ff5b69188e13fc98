using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhd;

/// <summary>
/// The validated structure of a VHD file: which footer is in force, the dynamic header and the block allocation table.
/// <see cref="Read"/> checks every field that sizes an allocation, a read or a loop against the file before using it,
/// so a hostile file costs at most memory proportional to its own length (and never more than
/// <see cref="MaxBlockCount"/> table entries).
/// </summary>
internal sealed class VhdLayout
{
    /// <summary>A block allocation table entry for a block that is not allocated.</summary>
    public const uint Unallocated = uint.MaxValue;

    /// <summary>Largest dynamic or differencing disk: 2040 GiB, the specification's limit.</summary>
    public const long MaxDynamicSize = 2040L << 30;

    /// <summary>
    /// Most blocks a dynamic disk may have here (a 64 MiB table in memory): enough for 2040 GiB in blocks of 128 KiB
    /// or more. Tiny blocks on huge disks are refused rather than allowed to size a huge allocation.
    /// </summary>
    public const int MaxBlockCount = 1 << 24;

    private const string BatName = "VHD block allocation table";

    private VhdLayout(VhdFooter footer, byte[] footerBytes, long footerOffset, long dataLimit)
    {
        Footer = footer;
        FooterBytes = footerBytes;
        FooterOffset = footerOffset;
        DataLimit = dataLimit;
        Bat = [];
    }

    /// <summary>The footer in force (at the end of the file, or the copy at offset 0 when the end one is damaged).</summary>
    public VhdFooter Footer { get; }

    /// <summary>The 512 bytes of that footer, written unchanged at the new end of the file after each allocation.</summary>
    public byte[] FooterBytes { get; }

    /// <summary>Offset of the footer at the end of the file, or -1 when it is damaged and the copy at offset 0 is in force.</summary>
    public long FooterOffset { get; }

    /// <summary>Every structure and block lies below this offset: the end footer, or the end of the file.</summary>
    public long DataLimit { get; }

    /// <summary>The disk's size in bytes.</summary>
    public long VirtualSize => (long)Footer.CurrentSize;

    /// <summary>The dynamic header (dynamic and differencing disks).</summary>
    public VhdDynamicHeader Header { get; private init; }

    /// <summary>Offset of the dynamic header in the file.</summary>
    public long HeaderOffset { get; private init; }

    /// <summary>Offset of the block allocation table in the file.</summary>
    public long BatOffset { get; private init; }

    /// <summary>
    /// The table entries of the blocks that cover the disk (host order). Entries past the disk's size, which some
    /// tools reserve for growth, are neither read nor checked.
    /// </summary>
    public uint[] Bat { get; private init; }

    /// <summary>Where the next block goes: over the end footer, or past the end of a file whose end footer is damaged.</summary>
    public long NextBlockOffset { get; private init; }

    /// <summary>Reads and validates the structure of an open VHD file.</summary>
    /// <exception cref="InvalidDiskFormatException">A structure is missing, truncated or invalid.</exception>
    public static VhdLayout Read(DiskFile file)
    {
        long length = file.Length;
        if (length < VhdFooter.Size)
        {
            throw new InvalidDiskFormatException(file.Path, 0, VhdFooter.Name, $"the file of {length} bytes is shorter than the {VhdFooter.Size}-byte footer");
        }

        long footerOffset = length - VhdFooter.Size;
        byte[] footerBytes = new byte[VhdFooter.Size];
        file.ReadExactly(footerOffset, footerBytes, VhdFooter.Name);
        if (VhdFooter.TryRead(footerBytes, out VhdFooter footer, out VhdFieldError footerError))
        {
            return footer.DiskType == VhdDiskType.Fixed
                ? ReadFixed(file, footer, footerBytes, footerOffset)
                : ReadDynamic(file, new VhdLayout(footer, footerBytes, footerOffset, footerOffset));
        }

        // A damaged end footer (a crash while another tool extended the file, or a torn sector) leaves the copy at
        // offset 0, which the specification keeps for exactly this. Only dynamic and differencing disks have one: the
        // first sector of a fixed disk is guest data, which may well hold a VHD of its own.
        byte[] copyBytes = new byte[VhdFooter.Size];
        file.ReadExactly(0, copyBytes, VhdFooter.Name + " copy");
        if (footerOffset > 0
            && VhdFooter.TryRead(copyBytes, out VhdFooter copy, out _)
            && copy.DiskType != VhdDiskType.Fixed)
        {
            return ReadDynamic(file, new VhdLayout(copy, copyBytes, -1, length));
        }

        throw footerError.ToException(file.Path, footerOffset);
    }

    private static VhdLayout ReadFixed(DiskFile file, VhdFooter footer, byte[] footerBytes, long footerOffset)
    {
        if (footer.CurrentSize > (ulong)footerOffset)
        {
            throw new InvalidDiskFormatException(
                file.Path,
                footerOffset + VhdFooter.CurrentSizeOffset,
                VhdFooter.Name + ".CurrentSize",
                $"a fixed disk of {footer.CurrentSize} bytes does not fit before its footer at {footerOffset}");
        }

        return new VhdLayout(footer, footerBytes, footerOffset, footerOffset);
    }

    private static VhdLayout ReadDynamic(DiskFile file, VhdLayout basis)
    {
        string path = file.Path;
        VhdFooter footer = basis.Footer;
        long footerAt = basis.FooterOffset >= 0 ? basis.FooterOffset : 0;
        long limit = basis.DataLimit;
        long size = (long)footer.CurrentSize;
        if (size > MaxDynamicSize)
        {
            throw new InvalidDiskFormatException(
                path,
                footerAt + VhdFooter.CurrentSizeOffset,
                VhdFooter.Name + ".CurrentSize",
                $"{size} bytes is larger than the {MaxDynamicSize} bytes (2040 GiB) of the largest dynamic disk");
        }

        ulong dataOffset = footer.DataOffset;
        if (dataOffset < VhdFooter.Size || limit < VhdDynamicHeader.Size || dataOffset > (ulong)(limit - VhdDynamicHeader.Size))
        {
            throw new InvalidDiskFormatException(
                path,
                footerAt + VhdFooter.DataOffsetOffset,
                VhdFooter.Name + ".DataOffset",
                $"the dynamic header at {dataOffset} does not lie between the footer copy and the end of the file's data at {limit}");
        }

        long headerOffset = (long)dataOffset;
        byte[] headerBytes = new byte[VhdDynamicHeader.Size];
        file.ReadExactly(headerOffset, headerBytes, VhdDynamicHeader.Name);
        VhdDynamicHeader header = VhdDynamicHeader.Read(headerBytes, path, headerOffset);

        int blockSize = header.BlockSize;
        long blockCount = (size + blockSize - 1) / blockSize;
        if (blockCount > MaxBlockCount)
        {
            throw new InvalidDiskFormatException(
                path,
                headerOffset + VhdDynamicHeader.BlockSizeOffset,
                VhdDynamicHeader.Name + ".BlockSize",
                $"{size} bytes in blocks of {blockSize} bytes needs {blockCount} blocks; at most {MaxBlockCount} are supported");
        }

        if (header.MaxTableEntries < blockCount)
        {
            throw new InvalidDiskFormatException(
                path,
                headerOffset + VhdDynamicHeader.MaxTableEntriesOffset,
                VhdDynamicHeader.Name + ".MaxTableEntries",
                $"{header.MaxTableEntries} entries cannot map {size} bytes in blocks of {blockSize} bytes ({blockCount} needed)");
        }

        ulong tableOffset = header.TableOffset;
        ulong tableBytes = (ulong)header.MaxTableEntries * 4;
        if (tableOffset < VhdFooter.Size
            || tableOffset > (ulong)limit
            || tableBytes > (ulong)limit - tableOffset
            || Overlaps((long)tableOffset, (long)tableBytes, headerOffset, VhdDynamicHeader.Size))
        {
            throw new InvalidDiskFormatException(
                path,
                headerOffset + VhdDynamicHeader.TableOffsetOffset,
                VhdDynamicHeader.Name + ".TableOffset",
                $"the table of {header.MaxTableEntries} entries at {tableOffset} does not lie inside the file's data (below {limit}) clear of the footer copy and the dynamic header");
        }

        long batOffset = (long)tableOffset;
        uint[] bat = new uint[blockCount];
        file.ReadExactly(batOffset, MemoryMarshal.AsBytes(bat.AsSpan()), BatName);
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(bat, bat);
        }

        CheckBlocks(path, bat, batOffset, (long)tableBytes, headerOffset, blockSize, limit);
        return new VhdLayout(footer, basis.FooterBytes, basis.FooterOffset, limit)
        {
            Header = header,
            HeaderOffset = headerOffset,
            BatOffset = batOffset,
            Bat = bat,

            // Over the end footer (the specification's layout); past the end when only the copy survives, so the
            // damaged tail is left behind as unreferenced space.
            NextBlockOffset = basis.FooterOffset >= 0 ? basis.FooterOffset : RoundUp(limit, 512),
        };
    }

    /// <summary>
    /// Every allocated block (sector bitmap and data) must lie inside the file's data, clear of the footer copy, the
    /// dynamic header, the table and every other block: a block past the end means a truncated file, and overlapping
    /// blocks would let a write to one disk offset corrupt another.
    /// </summary>
    private static void CheckBlocks(string path, uint[] bat, long batOffset, long batBytes, long headerOffset, int blockSize, long limit)
    {
        long span = VhdDynamicHeader.BitmapSize(blockSize) + (long)blockSize;
        int allocated = 0;
        foreach (uint entry in bat)
        {
            if (entry != Unallocated)
            {
                allocated++;
            }
        }

        if (allocated == 0)
        {
            return;
        }

        long[] starts = new long[allocated];
        int[] indexes = new int[allocated];
        int n = 0;
        for (int i = 0; i < bat.Length; i++)
        {
            uint entry = bat[i];
            if (entry == Unallocated)
            {
                continue;
            }

            long start = entry * 512L;
            if (start < VhdFooter.Size
                || start > limit - span
                || Overlaps(start, span, headerOffset, VhdDynamicHeader.Size)
                || Overlaps(start, span, batOffset, batBytes))
            {
                throw new InvalidDiskFormatException(
                    path,
                    batOffset + (4L * i),
                    $"{BatName}[{i}]",
                    $"block {i} at {start} ({span} bytes) does not lie in the file's data below {limit} clear of the headers and the table (a truncated or corrupt file)");
            }

            starts[n] = start;
            indexes[n] = i;
            n++;
        }

        Array.Sort(starts, indexes);
        for (int k = 1; k < starts.Length; k++)
        {
            if (starts[k] < starts[k - 1] + span)
            {
                int i = indexes[k];
                throw new InvalidDiskFormatException(
                    path,
                    batOffset + (4L * i),
                    $"{BatName}[{i}]",
                    $"block {i} at {starts[k]} overlaps block {indexes[k - 1]} at {starts[k - 1]}");
            }
        }
    }

    private static bool Overlaps(long start, long length, long otherStart, long otherLength) =>
        start < otherStart + otherLength && otherStart < start + length;

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
