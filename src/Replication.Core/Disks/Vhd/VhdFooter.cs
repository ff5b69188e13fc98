using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhd;

/// <summary>
/// The 512-byte hard disk footer: at the end of every VHD, and copied at offset 0 of dynamic and differencing disks.
/// All integers big-endian.
/// </summary>
internal readonly struct VhdFooter
{
    /// <summary>Size of the structure in bytes.</summary>
    public const int Size = 512;

    public const int CookieOffset = 0;
    public const int FeaturesOffset = 8;
    public const int FormatVersionOffset = 12;
    public const int DataOffsetOffset = 16;
    public const int TimeStampOffset = 24;
    public const int CreatorApplicationOffset = 28;
    public const int CreatorVersionOffset = 32;
    public const int CreatorHostOsOffset = 36;
    public const int OriginalSizeOffset = 40;
    public const int CurrentSizeOffset = 48;
    public const int CylindersOffset = 56;
    public const int HeadsOffset = 58;
    public const int SectorsPerTrackOffset = 59;
    public const int DiskTypeOffset = 60;
    public const int ChecksumOffset = 64;
    public const int UniqueIdOffset = 68;
    public const int SavedStateOffset = 84;

    /// <summary>The "reserved" feature bit, which the specification says is always set.</summary>
    public const uint FeatureReserved = 0x2;

    /// <summary>File format version 1.0, the only one defined.</summary>
    public const uint FormatVersion1 = 0x0001_0000;

    /// <summary>Data offset of a fixed disk, which has no further structure.</summary>
    public const ulong NoDataOffset = ulong.MaxValue;

    /// <summary>"Wi2k", the creator host OS code for Windows.</summary>
    public const uint HostOsWindows = 0x5769_326B;

    /// <summary>"repl", this library's creator application code.</summary>
    public const uint CreatorReplication = 0x7265_706C;

    /// <summary>Creator version written by this library (1.0).</summary>
    public const uint CreatorVersion1 = 0x0001_0000;

    /// <summary>Structure and field name prefix used in error messages.</summary>
    public const string Name = "VHD footer";

    private VhdFooter(
        uint features,
        uint formatVersion,
        ulong dataOffset,
        uint timeStamp,
        uint creatorApplication,
        uint creatorVersion,
        uint creatorHostOs,
        ulong originalSize,
        ulong currentSize,
        VhdGeometry geometry,
        VhdDiskType diskType,
        Guid uniqueId,
        byte savedState)
    {
        Features = features;
        FormatVersion = formatVersion;
        DataOffset = dataOffset;
        TimeStamp = timeStamp;
        CreatorApplication = creatorApplication;
        CreatorVersion = creatorVersion;
        CreatorHostOs = creatorHostOs;
        OriginalSize = originalSize;
        CurrentSize = currentSize;
        Geometry = geometry;
        DiskType = diskType;
        UniqueId = uniqueId;
        SavedState = savedState;
    }

    /// <summary>The cookie that starts the structure.</summary>
    public static ReadOnlySpan<byte> Cookie => "conectix"u8;

    /// <summary>Feature bits (1 temporary, 2 reserved).</summary>
    public uint Features { get; }

    /// <summary>File format version; major version 1 is the only one accepted.</summary>
    public uint FormatVersion { get; }

    /// <summary>File offset of the dynamic disk header; all ones for a fixed disk.</summary>
    public ulong DataOffset { get; }

    /// <summary>Creation time in seconds since 2000-01-01 00:00 UTC.</summary>
    public uint TimeStamp { get; }

    /// <summary>Four-character code of the application that created the file.</summary>
    public uint CreatorApplication { get; }

    /// <summary>Version of the creator application.</summary>
    public uint CreatorVersion { get; }

    /// <summary>Four-character code of the creator's host OS.</summary>
    public uint CreatorHostOs { get; }

    /// <summary>Size of the disk at creation.</summary>
    public ulong OriginalSize { get; }

    /// <summary>Current size of the disk in bytes, as the guest sees it: this library's virtual size.</summary>
    public ulong CurrentSize { get; }

    /// <summary>Cylinder / head / sector geometry (informational).</summary>
    public VhdGeometry Geometry { get; }

    /// <summary>Fixed, dynamic or differencing.</summary>
    public VhdDiskType DiskType { get; }

    /// <summary>Identifies the disk; a differencing child stores its parent's.</summary>
    public Guid UniqueId { get; }

    /// <summary>1 when the disk belongs to a virtual machine in saved state.</summary>
    public byte SavedState { get; }

    /// <summary>A footer for a new disk created now, by this library.</summary>
    public static VhdFooter CreateNew(VhdDiskType diskType, long size, Guid uniqueId, DateTimeOffset now) =>
        new(
            FeatureReserved,
            FormatVersion1,
            diskType == VhdDiskType.Fixed ? NoDataOffset : VhdDynamicHeader.FooterCopyEnd,
            VhdTime.ToVhd(now),
            CreatorReplication,
            CreatorVersion1,
            HostOsWindows,
            (ulong)size,
            (ulong)size,
            VhdGeometry.ForSize(size),
            diskType,
            uniqueId,
            savedState: 0);

    /// <summary>
    /// Parses and validates a footer: cookie, then checksum, then format version, disk type and current size.
    /// Offsets and sizes that depend on the file (data offset, size against the file length) are the caller's to check.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdFooter footer, out VhdFieldError error)
    {
        footer = default;
        if (!VhdChecksum.TryValidate(source, Size, Cookie, ChecksumOffset, Name, out error))
        {
            return false;
        }

        source = source[..Size];

        uint version = BinaryPrimitives.ReadUInt32BigEndian(source[FormatVersionOffset..]);
        if (version >> 16 != 1)
        {
            error = new VhdFieldError(FormatVersionOffset, Name + ".FileFormatVersion", $"version 0x{version:X8} is not 1.x");
            return false;
        }

        uint type = BinaryPrimitives.ReadUInt32BigEndian(source[DiskTypeOffset..]);
        if (type is not ((uint)VhdDiskType.Fixed or (uint)VhdDiskType.Dynamic or (uint)VhdDiskType.Differencing))
        {
            error = new VhdFieldError(DiskTypeOffset, Name + ".DiskType", $"disk type {type} is not fixed (2), dynamic (3) or differencing (4)");
            return false;
        }

        ulong currentSize = BinaryPrimitives.ReadUInt64BigEndian(source[CurrentSizeOffset..]);
        if (currentSize % 512 != 0 || currentSize > long.MaxValue / 2)
        {
            error = new VhdFieldError(CurrentSizeOffset, Name + ".CurrentSize", $"{currentSize} bytes is not a plausible whole number of 512-byte sectors");
            return false;
        }

        footer = new VhdFooter(
            BinaryPrimitives.ReadUInt32BigEndian(source[FeaturesOffset..]),
            version,
            BinaryPrimitives.ReadUInt64BigEndian(source[DataOffsetOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[TimeStampOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[CreatorApplicationOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[CreatorVersionOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[CreatorHostOsOffset..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[OriginalSizeOffset..]),
            currentSize,
            new VhdGeometry(BinaryPrimitives.ReadUInt16BigEndian(source[CylindersOffset..]), source[HeadsOffset], source[SectorsPerTrackOffset]),
            (VhdDiskType)type,
            new Guid(source.Slice(UniqueIdOffset, 16)),
            source[SavedStateOffset]);
        error = default;
        return true;
    }

    /// <summary>Parses and validates a footer read from <paramref name="fileOffset"/>, throwing on the first invalid field.</summary>
    /// <exception cref="InvalidDiskFormatException">A field is invalid.</exception>
    public static VhdFooter Read(ReadOnlySpan<byte> source, string? filePath, long fileOffset) =>
        TryRead(source, out VhdFooter footer, out VhdFieldError error) ? footer : throw error.ToException(filePath, fileOffset);

    /// <summary>Writes the 512 bytes of the footer, reserved bytes zero, with its checksum.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        destination.Clear();
        Cookie.CopyTo(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FeaturesOffset..], Features);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FormatVersionOffset..], FormatVersion);
        BinaryPrimitives.WriteUInt64BigEndian(destination[DataOffsetOffset..], DataOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[TimeStampOffset..], TimeStamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[CreatorApplicationOffset..], CreatorApplication);
        BinaryPrimitives.WriteUInt32BigEndian(destination[CreatorVersionOffset..], CreatorVersion);
        BinaryPrimitives.WriteUInt32BigEndian(destination[CreatorHostOsOffset..], CreatorHostOs);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OriginalSizeOffset..], OriginalSize);
        BinaryPrimitives.WriteUInt64BigEndian(destination[CurrentSizeOffset..], CurrentSize);
        BinaryPrimitives.WriteUInt16BigEndian(destination[CylindersOffset..], Geometry.Cylinders);
        destination[HeadsOffset] = Geometry.Heads;
        destination[SectorsPerTrackOffset] = Geometry.SectorsPerTrack;
        BinaryPrimitives.WriteUInt32BigEndian(destination[DiskTypeOffset..], (uint)DiskType);
        UniqueId.TryWriteBytes(destination.Slice(UniqueIdOffset, 16));
        destination[SavedStateOffset] = SavedState;
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChecksumOffset..], VhdChecksum.Compute(destination, ChecksumOffset));
    }
}
