using System.Buffers.Binary;
using System.Collections.Immutable;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhd;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>The on-disk structures on their own: checksums, geometry, round trips, sector bitmaps and extent unions.</summary>
public sealed class VhdStructureTests
{
    [Fact]
    public void Checksum_IsOnesComplementOfByteSum_WithoutTheField()
    {
        byte[] bytes = new byte[16];
        bytes[0] = 1;
        bytes[5] = 200;
        bytes[8] = 0xFF; // inside the checksum field at 8..11: not counted
        bytes[15] = 3;
        Assert.Equal(~204u, VhdChecksum.Compute(bytes, 8));
        Assert.Equal(uint.MaxValue, VhdChecksum.Compute(new byte[512], 64));
    }

    [Theory]
    [InlineData(19_584L, 288, 4, 17)] // qemu's 10,000,000-byte image: 10,027,008 bytes
    [InlineData(4_194_304L, 4161, 16, 63)] // 2 GiB
    [InlineData(65535L * 16 * 255, 65535, 16, 255)]
    [InlineData(1L << 40, 65535, 16, 255)]
    public void Geometry_FollowsTheSpecificationAlgorithm(long sectors, int cylinders, int heads, int sectorsPerTrack)
    {
        Assert.Equal(new VhdGeometry((ushort)cylinders, (byte)heads, (byte)sectorsPerTrack), VhdGeometry.FromSectors(sectors));
    }

    [Fact]
    public void Geometry_ForASizeCHSCannotExpress_IsTheMaximum()
    {
        Assert.Equal(new VhdGeometry(288, 4, 17), VhdGeometry.ForSize(10_027_008));
        Assert.Equal(VhdGeometry.Maximum, VhdGeometry.ForSize(10_027_008 + 512));
        Assert.Equal(VhdGeometry.Maximum, VhdGeometry.ForSize(4L << 20));
    }

    [Fact]
    public void Footer_RoundTrips_AndCarriesSpecifiedConstants()
    {
        var id = Guid.NewGuid();
        VhdFooter footer = VhdFooter.CreateNew(VhdDiskType.Dynamic, 10L << 20, id, new DateTimeOffset(2000, 1, 1, 0, 1, 40, TimeSpan.Zero));
        byte[] bytes = new byte[VhdFooter.Size];
        footer.WriteTo(bytes);
        Assert.Equal("conectix"u8.ToArray(), bytes[..8]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(VhdFooter.FeaturesOffset)));
        Assert.Equal(0x0001_0000u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(VhdFooter.FormatVersionOffset)));
        Assert.Equal(512ul, BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(VhdFooter.DataOffsetOffset)));
        Assert.Equal(100u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(VhdFooter.TimeStampOffset)));
        Assert.Equal("repl"u8.ToArray(), bytes[28..32]);
        Assert.Equal("Wi2k"u8.ToArray(), bytes[36..40]);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(VhdFooter.DiskTypeOffset)));

        VhdFooter read = VhdFooter.Read(bytes, "x", 0);
        Assert.Equal(id, read.UniqueId);
        Assert.Equal(10ul << 20, read.CurrentSize);
        Assert.Equal(VhdDiskType.Dynamic, read.DiskType);
        byte[] again = new byte[VhdFooter.Size];
        read.WriteTo(again);
        Assert.Equal(bytes, again);
    }

    [Fact]
    public void Footer_Read_NamesFieldAndOffset()
    {
        byte[] bytes = new byte[VhdFooter.Size];
        VhdFooter.CreateNew(VhdDiskType.Fixed, 1 << 20, Guid.NewGuid(), DateTimeOffset.UtcNow).WriteTo(bytes);
        bytes[100] ^= 1;
        var ex = Assert.Throws<InvalidDiskFormatException>(() => VhdFooter.Read(bytes, "/x.vhd", 4096));
        Assert.Equal("VHD footer.Checksum", ex.Field);
        Assert.Equal(4096 + VhdFooter.ChecksumOffset, ex.Offset);
        Assert.Equal("/x.vhd", ex.FilePath);
    }

    [Fact]
    public void DynamicHeader_RoundTrips()
    {
        var parent = Guid.NewGuid();
        var header = new VhdDynamicHeader(1536, 17, 2 << 20, parent, 12345, "parent.vhd", [new VhdParentLocator(VhdParentLocator.PlatformW2ru, 512, 24, 2048)]);
        byte[] bytes = new byte[VhdDynamicHeader.Size];
        header.WriteTo(bytes);
        Assert.Equal("cxsparse"u8.ToArray(), bytes[..8]);
        Assert.Equal(ulong.MaxValue, BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(VhdDynamicHeader.DataOffsetOffset)));
        Assert.Equal([0, (byte)'p'], bytes[VhdDynamicHeader.ParentUnicodeNameOffset..(VhdDynamicHeader.ParentUnicodeNameOffset + 2)]);

        VhdDynamicHeader read = VhdDynamicHeader.Read(bytes, "x", 512);
        Assert.Equal(1536ul, read.TableOffset);
        Assert.Equal(17u, read.MaxTableEntries);
        Assert.Equal(2 << 20, read.BlockSize);
        Assert.Equal(parent, read.ParentUniqueId);
        Assert.Equal("parent.vhd", read.ParentUnicodeName);
        Assert.Equal(VhdParentLocator.PlatformW2ru, read.ParentLocators[0].PlatformCode);
        Assert.Equal(2048ul, read.ParentLocators[0].PlatformDataOffset);
        Assert.Equal(VhdParentLocator.PlatformNone, read.ParentLocators[7].PlatformCode);
        Assert.Equal(512, VhdDynamicHeader.BitmapSize(2 << 20));
        Assert.Equal(512, VhdDynamicHeader.BitmapSize(4096));
        Assert.Equal(512, VhdDynamicHeader.BitmapSize(512));
        Assert.Equal(64 * 1024, VhdDynamicHeader.BitmapSize(256 << 20));
    }

    [Fact]
    public void DynamicHeader_RefusesAParentNameLongerThan256Units()
    {
        var header = new VhdDynamicHeader(1536, 1, 2 << 20, Guid.Empty, 0, new string('a', 257), ImmutableArray<VhdParentLocator>.Empty);
        Assert.Throws<ArgumentException>(() => header.WriteTo(new byte[VhdDynamicHeader.Size]));
    }

    [Fact]
    public void Locator_DecodesWindowsPathsAndFileUrls()
    {
        var w2ru = new VhdParentLocator(VhdParentLocator.PlatformW2ru, 512, 0, 0);
        Assert.Equal(Path.Combine("..", "base", "p.vhd"), w2ru.DecodePath(System.Text.Encoding.Unicode.GetBytes("..\\base\\p.vhd\0\0")));
        var macx = new VhdParentLocator(VhdParentLocator.PlatformMacX, 512, 0, 0);
        Assert.Equal("/Users/me/p.vhd", macx.DecodePath("file://localhost/Users/me/p.vhd"u8));
        var mac = new VhdParentLocator(VhdParentLocator.PlatformMac, 512, 0, 0);
        Assert.Null(mac.DecodePath("alias"u8));
        Assert.Equal("W2ku", VhdParentLocator.PlatformName(VhdParentLocator.PlatformW2ku));
    }

    [Fact]
    public void SectorBitmap_IsMostSignificantBitFirst()
    {
        byte[] bitmap = new byte[4];
        VhdSectorBitmap.SetRange(bitmap, 0, 1);
        Assert.Equal(0x80, bitmap[0]);
        VhdSectorBitmap.SetRange(bitmap, 6, 19);
        Assert.Equal([0x83, 0xFF, 0xE0, 0x00], bitmap);
        Assert.True(VhdSectorBitmap.IsSet(bitmap, 18));
        Assert.False(VhdSectorBitmap.IsSet(bitmap, 19));
        Assert.Equal(1, VhdSectorBitmap.NextDifferent(bitmap, 0, 32, value: true));
        Assert.Equal(6, VhdSectorBitmap.NextDifferent(bitmap, 1, 32, value: false));
        Assert.Equal(19, VhdSectorBitmap.NextDifferent(bitmap, 6, 32, value: true));
        Assert.Equal(32, VhdSectorBitmap.NextDifferent(bitmap, 19, 32, value: false));
        Assert.True(VhdSectorBitmap.AllSet(bitmap, 6, 19));
        Assert.False(VhdSectorBitmap.AllSet(bitmap, 5, 19));
    }

    [Fact]
    public void Union_MergesOverlappingAndAdjacentExtents()
    {
        DiskExtent[] a = [new(0, 10), new(50, 10), new(100, 5)];
        DiskExtent[] b = [new(5, 10), new(15, 5), new(60, 1), new(200, 1)];
        Assert.Equal([new DiskExtent(0, 20), new DiskExtent(50, 11), new DiskExtent(100, 5), new DiskExtent(200, 1)], VhdDisk.Union(a, b));
        Assert.Equal(a, VhdDisk.Union(a, []));
    }
}
