namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// Fixed offsets, sizes, limits and identifiers of the VHDX format ([MS-VHDX] section 2). Every structure reader
/// validates against these rather than against values found in the file.
/// </summary>
internal static class VhdxLayout
{
    /// <summary>One mebibyte: the alignment of every region, block and the log.</summary>
    public const int MiB = 1 << 20;

    /// <summary>Size of the header section at the start of the file.</summary>
    public const int HeaderSectionSize = MiB;

    /// <summary>Offset of the file type identifier.</summary>
    public const long FileIdentifierOffset = 0;

    /// <summary>Offset of the first header.</summary>
    public const long Header1Offset = 64 * 1024;

    /// <summary>Offset of the second header.</summary>
    public const long Header2Offset = 128 * 1024;

    /// <summary>Bytes a header's checksum covers.</summary>
    public const int HeaderSize = 4096;

    /// <summary>Offset of the first region table.</summary>
    public const long RegionTable1Offset = 192 * 1024;

    /// <summary>Offset of the second region table.</summary>
    public const long RegionTable2Offset = 256 * 1024;

    /// <summary>Bytes a region table's checksum covers.</summary>
    public const int RegionTableSize = 64 * 1024;

    /// <summary>Size of the metadata table at the start of the metadata region.</summary>
    public const int MetadataTableSize = 64 * 1024;

    /// <summary>The largest metadata item.</summary>
    public const int MaxMetadataItemLength = MiB;

    /// <summary>The log is written and replayed in 4 KiB sectors.</summary>
    public const int LogSectorSize = 4096;

    /// <summary>Smallest payload block.</summary>
    public const int MinBlockSize = MiB;

    /// <summary>Largest payload block.</summary>
    public const int MaxBlockSize = 256 * MiB;

    /// <summary>Largest virtual disk the format allows (64 TiB).</summary>
    public const long MaxVirtualSize = 64L << 40;

    /// <summary>
    /// No structure of a valid file lies beyond this offset: 64 TiB of payload plus the largest BAT and sector bitmaps
    /// fit well below it. Offsets past it are rejected before any arithmetic or allocation uses them.
    /// </summary>
    public const long MaxFileOffset = 128L << 40;

    /// <summary>Sectors described by one sector bitmap block (2^23).</summary>
    public const long SectorsPerBitmapBlock = 1L << 23;

    /// <summary>Size of a sector bitmap block.</summary>
    public const int SectorBitmapBlockSize = MiB;

    /// <summary>
    /// The longest log this implementation replays. Hyper-V and qemu write 1 MiB logs; the cap bounds the time and
    /// memory a hostile file can make replay take.
    /// </summary>
    public const int MaxReplayLogLength = 32 * MiB;

    /// <summary>Default log size of a new file, as Hyper-V and qemu use.</summary>
    public const int DefaultLogLength = MiB;

    /// <summary>Known region: the block allocation table.</summary>
    public static readonly Guid BatRegion = new("2DC27766-F623-4200-9D64-115E9BFD4A08");

    /// <summary>Known region: the metadata region.</summary>
    public static readonly Guid MetadataRegion = new("8B7CA206-4790-4B9A-B8FE-575F050F886E");

    /// <summary>Metadata item: file parameters.</summary>
    public static readonly Guid FileParametersItem = new("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");

    /// <summary>Metadata item: virtual disk size.</summary>
    public static readonly Guid VirtualDiskSizeItem = new("2FA54224-CD1B-4876-B211-5DBED83BF4B8");

    /// <summary>Metadata item: virtual disk id (page 83 data).</summary>
    public static readonly Guid VirtualDiskIdItem = new("BECA12AB-B2E6-4523-93EF-C309E000C746");

    /// <summary>Metadata item: logical sector size.</summary>
    public static readonly Guid LogicalSectorSizeItem = new("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");

    /// <summary>Metadata item: physical sector size.</summary>
    public static readonly Guid PhysicalSectorSizeItem = new("CDA348C7-445D-4471-9CC9-E9885251C556");

    /// <summary>Metadata item: parent locator.</summary>
    public static readonly Guid ParentLocatorItem = new("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");

    /// <summary>Parent locator type of a VHDX parent.</summary>
    public static readonly Guid VhdxParentLocatorType = new("B04AEFB7-D19E-4A81-B789-25B8E9445913");

    /// <summary>Rounds up to a multiple of <paramref name="unit"/> (a power of two); the caller keeps the value far from overflow.</summary>
    public static long RoundUp(long value, long unit) => (value + unit - 1) & ~(unit - 1);

    /// <summary>True when <paramref name="value"/> is a multiple of <paramref name="unit"/> (a power of two).</summary>
    public static bool IsAligned(long value, long unit) => (value & (unit - 1)) == 0;

    /// <summary>
    /// Throws unless the <paramref name="what"/> at [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// ends inside a file of <paramref name="fileLength"/> bytes; <paramref name="fieldOffset"/> and <paramref name="field"/> name the length field.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">The structure extends past the end of the file.</exception>
    public static void CheckInsideFile(string path, long fieldOffset, string field, string what, ulong offset, uint length, long fileLength)
    {
        if ((long)offset + length > fileLength)
        {
            throw new InvalidDiskFormatException(path, fieldOffset, field, $"the {what} [{offset}, {offset + length}) extends past the end of the {fileLength}-byte file");
        }
    }
}
