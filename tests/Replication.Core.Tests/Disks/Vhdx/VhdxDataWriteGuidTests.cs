using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>DataWriteGuid tells whether user data changed: renewed by the first write of each open, and by nothing else.</summary>
public sealed class VhdxDataWriteGuidTests
{
    private const int MiB = VhdxTestSupport.MiB;

    [Theory]
    [InlineData(DiskType.Dynamic)]
    [InlineData(DiskType.Fixed)]
    public void Renewed_by_the_first_write_of_each_open_only(DiskType type)
    {
        using var dir = new TempDirectory();
        string path = dir.File("g.vhdx");
        using (VhdxTestSupport.Create(path, type, 4 * MiB))
        {
        }

        VhdxHeader created = VhdxTestSupport.ReadCurrentHeader(path);
        byte[] untouched = File.ReadAllBytes(path);
        Guid first;
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            Assert.Equal(created.DataWriteGuid, disk.DataWriteGuid);
            disk.Read(0, new byte[MiB]);
            disk.Flush();
            Assert.Equal(created.DataWriteGuid, disk.DataWriteGuid);
            Assert.Equal(created.SequenceNumber, disk.CurrentHeader.SequenceNumber);

            disk.Write(MiB + 3, new byte[] { 42 });
            first = disk.DataWriteGuid!.Value;
            Assert.NotEqual(created.DataWriteGuid, first);
            Assert.NotEqual(created.FileWriteGuid, disk.CurrentHeader.FileWriteGuid);
            Assert.True(disk.CurrentHeader.SequenceNumber > created.SequenceNumber);

            disk.Write(2 * MiB, new byte[] { 43 });
            disk.Write(MiB + 3, new byte[] { 44 });
            Assert.Equal(first, disk.DataWriteGuid);
        }

        // Opening and closing without writing changes nothing in the file.
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            Assert.Equal(first, disk.DataWriteGuid);
        }

        Assert.Equal(first, VhdxTestSupport.ReadCurrentHeader(path).DataWriteGuid);
        using (VhdxDisk disk = VhdxTestSupport.Open(path, readOnly: true))
        {
            Assert.Equal(first, disk.DataWriteGuid);
        }

        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            disk.Write(0, new byte[] { 1 });
            Assert.NotEqual(first, disk.DataWriteGuid);
            Assert.Equal(disk.DataWriteGuid, VhdxTestSupport.ReadCurrentHeader(path).DataWriteGuid);
        }

        Assert.False(untouched.AsSpan().SequenceEqual(File.ReadAllBytes(path)));
        VhdxTestSupport.QemuCheck(path);
    }

    [Fact]
    public void Open_and_close_without_writes_leaves_the_file_byte_identical()
    {
        using var dir = new TempDirectory();
        string path = dir.File("same.vhdx");
        using (VhdxDisk disk = VhdxTestSupport.Create(path, DiskType.Dynamic, 4 * MiB))
        {
            disk.Write(0, new byte[] { 1, 2, 3 });
        }

        byte[] before = File.ReadAllBytes(path);
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            disk.Read(0, new byte[4 * MiB]);
            _ = disk.GetAllocatedExtents(0, disk.VirtualSize).ToList();
        }

        Assert.True(before.AsSpan().SequenceEqual(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Header_update_goes_to_the_other_slot_with_the_next_sequence_number()
    {
        using var dir = new TempDirectory();
        string path = dir.File("slots.vhdx");
        using (VhdxTestSupport.Create(path, DiskType.Fixed, 4 * MiB))
        {
        }

        using VhdxDisk disk = VhdxTestSupport.Open(path);
        int slot = disk.CurrentHeaderSlot;
        ulong sequence = disk.CurrentHeader.SequenceNumber;
        disk.Write(0, new byte[] { 1 });

        // The update is written twice (both slots end up current), so the slot returns and the sequence grows by two.
        Assert.Equal(slot, disk.CurrentHeaderSlot);
        Assert.Equal(sequence + 2, disk.CurrentHeader.SequenceNumber);
        byte[] file = File.ReadAllBytes(path);
        Assert.True(VhdxHeader.TryRead(file.AsSpan(64 * 1024, 4096), out VhdxHeader h1, out _));
        Assert.True(VhdxHeader.TryRead(file.AsSpan(128 * 1024, 4096), out VhdxHeader h2, out _));
        Assert.Equal(h1.DataWriteGuid, h2.DataWriteGuid);
        Assert.Equal(1UL, h1.SequenceNumber > h2.SequenceNumber ? h1.SequenceNumber - h2.SequenceNumber : h2.SequenceNumber - h1.SequenceNumber);
    }
}
