using System.Globalization;
using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Disks.Vhd.VhdTestSupport;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>Images written by qemu read identically here, and images written here satisfy qemu-img and vhdiinfo.</summary>
public sealed class VhdQemuInteropTests
{
    [Theory]
    [InlineData("fixed", 10_000_000L)]
    [InlineData("fixed", 3L * MiB)]
    [InlineData("dynamic", 10_000_000L)]
    [InlineData("dynamic", 5L * MiB + (7 * 512))]
    [InlineData("dynamic", 33L * MiB)]
    [InlineData("dynamic,force_size=on", 10_000_384L)]
    [InlineData("fixed,force_size=on", (3L * MiB) + 512)]
    public void QemuImage_ReadsLikeQemuConvert(string subformat, long requestedSize)
    {
        using var dir = new TempDirectory();
        string path = dir.File("qemu.vhd");
        ExternalTool.RunChecked("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=" + subformat, path, requestedSize.ToString(CultureInfo.InvariantCulture));

        // qemu rounds the size to a CHS geometry unless forced; write relative to what it made.
        long size = QemuVirtualSize(path);
        if (subformat.Contains("force_size", StringComparison.Ordinal))
        {
            Assert.Equal(requestedSize, size);
        }

        var commands = new List<string> { "-f", "vpc" };
        var random = new Random(unchecked((int)requestedSize) ^ subformat.Length);
        long[] fixedOffsets = [0, 511, (2 * MiB) - 300, (4 * MiB) + 4096, size - 1000, size / 2 + 3];
        foreach (long offset in fixedOffsets.Where(o => o >= 0 && o < size))
        {
            int length = (int)Math.Min(5000 + random.Next(70_000), size - offset);
            commands.Add("-c");
            commands.Add(string.Create(CultureInfo.InvariantCulture, $"write -P 0x{random.Next(1, 256):X2} {offset} {length}"));
        }

        for (int i = 0; i < 6; i++)
        {
            (long offset, int length) = RandomRange(random, size, 300_000);
            commands.Add("-c");
            commands.Add(string.Create(CultureInfo.InvariantCulture, $"write -P 0x{random.Next(1, 256):X2} {offset} {length}"));
        }

        commands.Add(path);
        ExternalTool.RunChecked("qemu-io", [.. commands]);
        string raw = QemuConvertToRaw(path);

        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(DiskFormat.Vhd, disk.Format);
        Assert.Equal(subformat.StartsWith("fixed", StringComparison.Ordinal) ? DiskType.Fixed : DiskType.Dynamic, disk.DiskType);
        DiskAssert.ContentEqualsFile(raw, disk);
        AssertExtentsCoverData(File.ReadAllBytes(raw), disk);
    }

    [Theory]
    [InlineData(DiskType.Fixed, 10_000_384L, null)]
    [InlineData(DiskType.Fixed, 4L * MiB, null)]
    [InlineData(DiskType.Dynamic, 10_000_384L, null)]
    [InlineData(DiskType.Dynamic, (6L * MiB) + (3 * 512), 512 * KiB)]
    [InlineData(DiskType.Dynamic, 20L * MiB, 4 * KiB)]
    public void OurImage_PassesQemuAndVhdiinfo(DiskType type, long size, int? blockSize)
    {
        using var dir = new TempDirectory();
        string path = dir.File("ours.vhd");
        byte[] model = new byte[size];
        using (VirtualDisk disk = VirtualDisk.Create(path, Options(type, size, blockSize)))
        {
            RandomWrites(disk, model, new Random(42), 40, 200_000);
            disk.Write(size - 100, new byte[100]);
            Array.Clear(model, (int)(size - 100), 100);
            disk.Write(0, [1, 2, 3]);
            model[0] = 1;
            model[1] = 2;
            model[2] = 3;
        }

        AssertQemuAgrees(path, size, model);
    }

    [Fact]
    public void FixedRoundedToMiB_HasWholeMiBAndFooterOnly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("azure.vhd");
        using (VirtualDisk disk = VirtualDisk.Create(path, Options(DiskType.Fixed, (3 * MiB) + 512) with { RoundUpToMiB = true }))
        {
            Assert.Equal(4 * MiB, disk.VirtualSize);
        }

        Assert.Equal((4 * MiB) + 512, new FileInfo(path).Length);
        Assert.Equal(4 * MiB, QemuVirtualSize(path));
    }

    [Fact]
    public void CreateRefusesInvalidOptions()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("a.vhd"), Options(DiskType.Dynamic, MiB) with { LogicalSectorSize = 4096 }));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("b.vhd"), Options(DiskType.Dynamic, MiB + 1)));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("c.vhd"), Options(DiskType.Dynamic, 0)));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("d.vhd"), Options(DiskType.Dynamic, MiB, 3000)));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("e.vhd"), Options(DiskType.Dynamic, MiB, 2048)));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("f.vhd"), Options(DiskType.Dynamic, 2041L << 30)));
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("g.vhd"), Options(DiskType.Fixed, MiB, 2 * MiB)));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    internal static void AssertQemuAgrees(string path, long size, byte[] model)
    {
        // qemu 7.2 has no consistency check for the vpc driver: it says so and exits 63. Any other failure is a finding.
        ExternalTool.Result check = ExternalTool.Run("qemu-img", "check", "-f", "vpc", path);
        Assert.True(
            check.ExitCode == 0 || (check.ExitCode == 63 && check.StandardError.Contains("does not support checks", StringComparison.Ordinal)),
            $"qemu-img check: {check.ExitCode} {check.StandardOutput} {check.StandardError}");

        string json = ExternalTool.RunChecked("qemu-img", "info", "--output=json", "-f", "vpc", path);
        using (JsonDocument doc = JsonDocument.Parse(json))
        {
            Assert.Equal(size, doc.RootElement.GetProperty("virtual-size").GetInt64());
        }

        string raw = QemuConvertToRaw(path);
        byte[] converted = File.ReadAllBytes(raw);
        Assert.Equal(model.Length, converted.Length);
        Assert.True(model.AsSpan().SequenceEqual(converted), $"qemu reads different bytes from {path} (first at {model.AsSpan().CommonPrefixLength(converted)})");
        AssertVhdiinfoAgrees(path, size);
    }

    /// <summary>libvhdi, a second independent reader, parses the file and reports our size.</summary>
    internal static string AssertVhdiinfoAgrees(string path, long size)
    {
        string info = ExternalTool.RunChecked("vhdiinfo", path);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"({size} bytes)"), info, StringComparison.Ordinal);
        return info;
    }

    /// <summary>Every non-zero byte lies inside an extent the disk reports.</summary>
    internal static void AssertExtentsCoverData(byte[] content, IVirtualDisk disk)
    {
        var extents = disk.GetAllocatedExtents(0, disk.VirtualSize).ToList();
        for (int i = 1; i < extents.Count; i++)
        {
            Assert.True(extents[i].Offset > extents[i - 1].End, "extents must be ascending, disjoint and merged");
        }

        long position = 0;
        foreach (DiskExtent extent in extents)
        {
            Assert.True(content.AsSpan((int)position, (int)(extent.Offset - position)).IndexOfAnyExcept((byte)0) < 0, $"data before extent {extent}");
            position = extent.End;
        }

        Assert.True(content.AsSpan((int)position).IndexOfAnyExcept((byte)0) < 0, "data after the last extent");
    }
}
