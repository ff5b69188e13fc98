using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

public sealed class VhdxSmokeTests
{
    [Theory]
    [InlineData(DiskType.Dynamic)]
    [InlineData(DiskType.Fixed)]
    public void Create_write_reopen(DiskType type)
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.vhdx");
        var model = new byte[8 << 20];
        var rng = new Random(1);
        using (VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = type, VirtualSize = model.Length, BlockSize = 1 << 20 }))
        {
            for (int i = 0; i < 10; i++)
            {
                int off = rng.Next(model.Length - 5000);
                int len = rng.Next(1, 5000);
                byte[] data = new byte[len];
                rng.NextBytes(data);
                data.CopyTo(model, off);
                disk.Write(off, data);
            }

            DiskAssert.ContentEquals(model, disk);
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            DiskAssert.ContentEquals(model, disk);
        }

        ExternalTool.RunChecked("qemu-img", "check", "-f", "vhdx", path);
        string raw = dir.File("a.raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, raw);
        Assert.True(model.AsSpan().SequenceEqual(File.ReadAllBytes(raw)));
    }
}
