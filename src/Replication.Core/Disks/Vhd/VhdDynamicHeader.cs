using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Numerics;
using System.Text;

namespace Replication.Core.Disks.Vhd;

/// <summary>
/// The 1024-byte dynamic disk header of dynamic and differencing disks, at the footer's data offset: where the block
/// allocation table is, the block size, and for a differencing disk how to find the parent. Big-endian.
/// </summary>
internal readonly struct VhdDynamicHeader
{
    /// <summary>Size of the structure in bytes.</summary>
    public const int Size = 1024;

    public const int CookieOffset = 0;
    public const int DataOffsetOffset = 8;
    public const int TableOffsetOffset = 16;
    public const int HeaderVersionOffset = 24;
    public const int MaxTableEntriesOffset = 28;
    public const int BlockSizeOffset = 32;
    public const int ChecksumOffset = 36;
    public const int ParentUniqueIdOffset = 40;
    public const int ParentTimeStampOffset = 56;
    public const int ParentUnicodeNameOffset = 64;
    public const int ParentUnicodeNameSize = 512;
    public const int ParentLocatorsOffset = 576;
    public const int ParentLocatorCount = 8;

    /// <summary>Header version 1.0, the only one defined.</summary>
    public const uint HeaderVersion1 = 0x0001_0000;

    /// <summary>Where this library puts the header: right after the footer copy at offset 0.</summary>
    public const ulong FooterCopyEnd = VhdFooter.Size;

    /// <summary>The specification's default block size, 2 MiB.</summary>
    public const int DefaultBlockSize = 2 << 20;

    /// <summary>
    /// Smallest block size accepted: 4 KiB, the smallest whose sector bitmap fills at least a whole byte. The
    /// specification fixes no range and Virtual PC, Virtual Server and Hyper-V write 2 MiB (512 KiB for some
    /// differencing disks). QEMU accepts any power of two from 512 but sizes the bitmap as block size / 4096 rounded up
    /// to a sector, which is 0 below 4 KiB where the specification says one sector: such files mean different things
    /// to different readers, so they are refused.
    /// </summary>
    public const int MinBlockSize = 4096;

    /// <summary>
    /// Largest block size accepted: 256 MiB (as VHDX). Bounds the sector bitmap (64 KiB) this library reads per block.
    /// </summary>
    public const int MaxBlockSize = 256 << 20;

    /// <summary>Structure and field name prefix used in error messages.</summary>
    public const string Name = "VHD dynamic header";

    public VhdDynamicHeader(
        ulong tableOffset,
        uint maxTableEntries,
        int blockSize,
        Guid parentUniqueId,
        uint parentTimeStamp,
        string parentUnicodeName,
        ImmutableArray<VhdParentLocator> parentLocators)
    {
        TableOffset = tableOffset;
        MaxTableEntries = maxTableEntries;
        BlockSize = blockSize;
        ParentUniqueId = parentUniqueId;
        ParentTimeStamp = parentTimeStamp;
        ParentUnicodeName = parentUnicodeName;
        ParentLocators = parentLocators;
    }

    /// <summary>The cookie that starts the structure.</summary>
    public static ReadOnlySpan<byte> Cookie => "cxsparse"u8;

    /// <summary>File offset of the block allocation table.</summary>
    public ulong TableOffset { get; }

    /// <summary>Number of entries in the block allocation table.</summary>
    public uint MaxTableEntries { get; }

    /// <summary>Bytes of disk data per block (the sector bitmap comes on top); a power of two.</summary>
    public int BlockSize { get; }

    /// <summary>Unique id of the parent disk (differencing disks).</summary>
    public Guid ParentUniqueId { get; }

    /// <summary>Modification time of the parent when the child was linked to it, VHD seconds (not checked).</summary>
    public uint ParentTimeStamp { get; }

    /// <summary>The parent's file name (differencing disks), empty if none.</summary>
    public string ParentUnicodeName { get; }

    /// <summary>The eight parent locator entries.</summary>
    public ImmutableArray<VhdParentLocator> ParentLocators { get; }

    /// <summary>Size of a block's sector bitmap: one bit per sector, padded to whole sectors.</summary>
    public static int BitmapSize(int blockSize) => (int)RoundUp(((uint)blockSize / 512 + 7) / 8, 512);

    /// <summary>
    /// Parses and validates a header: cookie, then checksum, then header version and block size. The table offset and
    /// entry count are checked against the file and the disk size by the disk.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdDynamicHeader header, out VhdFieldError error)
    {
        header = default;
        if (!VhdChecksum.TryValidate(source, Size, Cookie, ChecksumOffset, Name, out error))
        {
            return false;
        }

        source = source[..Size];

        uint version = BinaryPrimitives.ReadUInt32BigEndian(source[HeaderVersionOffset..]);
        if (version != HeaderVersion1)
        {
            error = new VhdFieldError(HeaderVersionOffset, Name + ".HeaderVersion", $"version 0x{version:X8} is not 1.0");
            return false;
        }

        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(source[BlockSizeOffset..]);
        if (!BitOperations.IsPow2(blockSize) || blockSize < MinBlockSize || blockSize > MaxBlockSize)
        {
            error = new VhdFieldError(
                BlockSizeOffset,
                Name + ".BlockSize",
                $"{blockSize} bytes is not a power of two from {MinBlockSize} to {MaxBlockSize}");
            return false;
        }

        var locators = ImmutableArray.CreateBuilder<VhdParentLocator>(ParentLocatorCount);
        for (int i = 0; i < ParentLocatorCount; i++)
        {
            locators.Add(VhdParentLocator.Read(source[(ParentLocatorsOffset + (i * VhdParentLocator.Size))..]));
        }

        string name = Encoding.BigEndianUnicode.GetString(source.Slice(ParentUnicodeNameOffset, ParentUnicodeNameSize));
        int nul = name.IndexOf('\0', StringComparison.Ordinal);
        header = new VhdDynamicHeader(
            BinaryPrimitives.ReadUInt64BigEndian(source[TableOffsetOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[MaxTableEntriesOffset..]),
            (int)blockSize,
            new Guid(source.Slice(ParentUniqueIdOffset, 16)),
            BinaryPrimitives.ReadUInt32BigEndian(source[ParentTimeStampOffset..]),
            nul >= 0 ? name[..nul] : name,
            locators.MoveToImmutable());
        error = default;
        return true;
    }

    /// <summary>Parses and validates a header read from <paramref name="fileOffset"/>, throwing on the first invalid field.</summary>
    /// <exception cref="InvalidDiskFormatException">A field is invalid.</exception>
    public static VhdDynamicHeader Read(ReadOnlySpan<byte> source, string? filePath, long fileOffset) =>
        TryRead(source, out VhdDynamicHeader header, out VhdFieldError error) ? header : throw error.ToException(filePath, fileOffset);

    /// <summary>Writes the 1024 bytes of the header, reserved bytes zero, with its checksum.</summary>
    /// <exception cref="ArgumentException">The parent name does not fit its 256 UTF-16 code units.</exception>
    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        destination.Clear();
        Cookie.CopyTo(destination);

        // The specification says all ones here but QEMU notes Microsoft's tools expect all 64 bits set, as written.
        BinaryPrimitives.WriteUInt64BigEndian(destination[DataOffsetOffset..], ulong.MaxValue);
        BinaryPrimitives.WriteUInt64BigEndian(destination[TableOffsetOffset..], TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[HeaderVersionOffset..], HeaderVersion1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[MaxTableEntriesOffset..], MaxTableEntries);
        BinaryPrimitives.WriteUInt32BigEndian(destination[BlockSizeOffset..], (uint)BlockSize);
        ParentUniqueId.TryWriteBytes(destination.Slice(ParentUniqueIdOffset, 16));
        BinaryPrimitives.WriteUInt32BigEndian(destination[ParentTimeStampOffset..], ParentTimeStamp);
        string name = ParentUnicodeName ?? string.Empty;
        if (Encoding.BigEndianUnicode.GetByteCount(name) > ParentUnicodeNameSize)
        {
            throw new ArgumentException($"The parent name '{name}' is longer than the {ParentUnicodeNameSize / 2} UTF-16 code units a VHD holds.");
        }

        Encoding.BigEndianUnicode.GetBytes(name, destination.Slice(ParentUnicodeNameOffset, ParentUnicodeNameSize));
        ImmutableArray<VhdParentLocator> locators = ParentLocators.IsDefault ? [] : ParentLocators;
        for (int i = 0; i < Math.Min(locators.Length, ParentLocatorCount); i++)
        {
            locators[i].WriteTo(destination[(ParentLocatorsOffset + (i * VhdParentLocator.Size))..]);
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination[ChecksumOffset..], VhdChecksum.Compute(destination, ChecksumOffset));
    }

    private static ulong RoundUp(ulong value, ulong unit) => (value + unit - 1) / unit * unit;
}
