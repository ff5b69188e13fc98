using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Raw;

public sealed class RawDiskTests
{
    [Fact]
    public void A_new_raw_disk_is_sparse_and_reports_only_written_extents()
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk.img");
        using VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 64L << 20 });
        Assert.Equal(DiskFormat.Raw, disk.Format);
        Assert.Empty(disk.GetAllocatedExtents(0, disk.VirtualSize));
        Assert.True(disk.IsKnownZero(0, disk.VirtualSize));

        disk.Write((10L << 20) + 100, new byte[] { 1 });
        disk.Flush();
        DiskExtent extent = Assert.Single(disk.GetAllocatedExtents(0, disk.VirtualSize));
        Assert.True(extent.Offset <= (10L << 20) + 100 && extent.End > (10L << 20) + 100, extent.ToString());
        Assert.True(extent.Length <= 1 << 20, "the file system reports holes at page granularity");
        Assert.True(disk.IsKnownZero(0, 10L << 20));
        Assert.False(disk.IsKnownZero(10L << 20, 4096));
    }

    [Fact]
    public void Content_decides_the_format_not_the_file_name()
    {
        using var dir = new TempDirectory();
        string vhdx = dir.File("looks-raw.img");
        VirtualDisk.Create(vhdx, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = 8L << 20 }).Dispose();
        Assert.Equal(DiskFormat.Vhdx, VirtualDisk.DetectFormat(vhdx));
        string vhd = dir.File("looks-vhdx.vhdx");
        VirtualDisk.Create(vhd, new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Fixed, VirtualSize = 8L << 20 }).Dispose();
        Assert.Equal(DiskFormat.Vhd, VirtualDisk.DetectFormat(vhd));
        string raw = dir.File("looks-vhd.vhd");
        File.WriteAllBytes(raw, new byte[4096]);
        Assert.Equal(DiskFormat.Raw, VirtualDisk.DetectFormat(raw));
    }

    [Fact]
    public void A_raw_file_that_is_not_whole_sectors_is_refused_with_its_length()
    {
        using var dir = new TempDirectory();
        string path = dir.File("odd.img");
        File.WriteAllBytes(path, new byte[1000]);
        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(1000, ex.Offset);
        Assert.Contains("raw image length", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_outside_the_disk_and_writes_to_read_only_disks_are_refused()
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk.img");
        VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 1 << 20 }).Dispose();
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read((1 << 20) - 1, new byte[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(-1, new byte[1]));
        Assert.Throws<NotSupportedException>(() => disk.Write(0, new byte[1]));
        Assert.Throws<ReplicationException>(() => VirtualDisk.Open(dir.File("missing.img")));
        Assert.Throws<IOException>(() => VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 512 }));
    }
}
