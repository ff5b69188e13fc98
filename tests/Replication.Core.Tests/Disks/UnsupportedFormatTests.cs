using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks;

/// <summary>
/// Images in formats the library does not read, made by qemu-img: recognised by their signatures and refused by name,
/// never opened as a raw image (of odd length, or of the container's bytes).
/// </summary>
public sealed class UnsupportedFormatTests
{
    [Theory]
    [InlineData("qcow2", "", "qcow2")]
    [InlineData("qcow2", "compat=0.10", "qcow2")]
    [InlineData("qcow", "", "qcow")]
    [InlineData("vmdk", "", "VMDK")]
    [InlineData("vmdk", "subformat=streamOptimized", "VMDK")]
    [InlineData("vmdk", "subformat=monolithicFlat", "VMDK")]
    [InlineData("vdi", "", "VDI")]
    [InlineData("vdi", "static=on", "VDI")]
    [InlineData("qed", "", "QED")]
    public void An_image_in_another_format_is_refused_naming_that_format(string qemuFormat, string options, string name)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk." + qemuFormat);
        string[] create = options.Length == 0
            ? ["create", "-q", "-f", qemuFormat, path, "8M"]
            : ["create", "-q", "-f", qemuFormat, "-o", options, path, "8M"];
        ExternalTool.RunChecked("qemu-img", create);

        var ex = Assert.Throws<UnsupportedDiskFormatException>(() => VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess));
        Assert.Equal(name, ex.FormatName);
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith($"{path}: {name} is not supported (raw, VHD, VHDX are)", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<InvalidDiskFormatException>(ex);
        Assert.Equal(name, Assert.Throws<UnsupportedDiskFormatException>(() => VirtualDisk.DetectFormat(path)).FormatName);

        ExternalTool.Result info = Repl.Run("disk", "info", path, "--json");
        Assert.Equal(1, info.ExitCode);
        string line = Assert.Single(info.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"repl: {path}: {name} is not supported (raw, VHD, VHDX are)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vhd_whose_guest_data_starts_with_another_formats_signature_is_still_a_vhd()
    {
        using var dir = new TempDirectory();
        string path = dir.File("holds-a-qcow2.vhd");
        using (VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Fixed, VirtualSize = 1 << 20 }))
        {
            disk.Write(0, [(byte)'Q', (byte)'F', (byte)'I', 0xFB, 0, 0, 0, 3]);
        }

        using VirtualDisk opened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(DiskFormat.Vhd, opened.Format);
    }
}
