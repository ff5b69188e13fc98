using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks;

/// <summary>
/// <see cref="IDiskSink.ZeroAsync"/> on every format: the range reads as zeros, nothing outside it changes, qemu still
/// reads the file the same, and where the format lets the file system free the range (raw, fixed VHD) a hole is punched.
/// </summary>
public sealed class DiskZeroingTests
{
    private const long Size = 8L << 20;

    [Theory]
    [MemberData(nameof(DiskKinds.StandaloneData), MemberType = typeof(DiskKinds))]
    public async Task A_zeroed_range_reads_as_zeros_and_nothing_else_changes(DiskFormat format, DiskType type)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk" + DiskKinds.Extension(format));
        byte[] model = new byte[Size];
        new Random(3).NextBytes(model);
        using (VirtualDisk create = DiskKinds.Create(path, format, type, Size))
        {
            create.Write(0, model);
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            // Unaligned ends, a whole-MiB middle, and a range at the end of the disk.
            await disk.ZeroAsync(1000, (3 << 20) + 5000);
            await disk.ZeroAsync(Size - 4096, 4096);
            await disk.ZeroAsync(5L << 20, 0);
            await disk.FlushAsync();
        }

        model.AsSpan(1000, (3 << 20) + 5000).Clear();
        model.AsSpan((int)(Size - 4096)).Clear();
        using (VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        {
            byte[] read = new byte[Size];
            reopened.Read(0, read);
            Assert.Equal(model, read);
            await Assert.ThrowsAsync<NotSupportedException>(async () => await reopened.ZeroAsync(0, 512));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await ((IDiskSink)reopened).ZeroAsync(Size - 512, 1024));
        }

        string raw = dir.File("check.raw");
        ExternalTool.Run("qemu-img", "convert", "-f", DiskKinds.QemuFormat(format), "-O", "raw", path, raw).EnsureSuccess("qemu-img convert");
        Assert.Equal(model, File.ReadAllBytes(raw));
    }

    [Theory]
    [InlineData(DiskFormat.Raw)]
    [InlineData(DiskFormat.Vhd)]
    public async Task Raw_and_fixed_VHD_files_get_a_hole_where_they_are_zeroed(DiskFormat format)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk" + DiskKinds.Extension(format));
        byte[] data = new byte[Size];
        new Random(4).NextBytes(data);
        using (VirtualDisk disk = DiskKinds.Create(path, format, DiskType.Fixed, Size))
        {
            disk.Write(0, data);
            disk.Flush();
            Assert.True(disk.IsKnownZero(2L << 20, 2L << 20) == false);
            await disk.ZeroAsync(2L << 20, 2L << 20);
            await disk.FlushAsync();
            Assert.True(disk.IsKnownZero(2L << 20, 2L << 20), "the zeroed MiBs are a hole in the file");
            Assert.False(disk.IsKnownZero(0, 1L << 20));
        }
    }
}
