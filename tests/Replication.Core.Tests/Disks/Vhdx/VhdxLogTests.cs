using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>The BAT and sector bitmap go through the log: a crash at any point leaves the old or the new state, never a mix.</summary>
public sealed class VhdxLogTests
{
    private const int MiB = VhdxTestSupport.MiB;

    [Theory]
    [InlineData("before-log-write", false)]
    [InlineData("after-log-flush", true)]
    [InlineData("after-final-write", true)]
    public void Crash_during_allocation_leaves_old_or_new_state(string point, bool newStateVisible)
    {
        using var dir = new TempDirectory();
        string path = dir.File("d.vhdx");
        byte[] before = new byte[8 * MiB];
        byte[] update = new byte[100_000];
        new Random(5).NextBytes(update);
        using (VhdxDisk disk = VhdxTestSupport.Create(path, DiskType.Dynamic, before.Length))
        {
            VhdxTestSupport.RandomWrites(disk, before, new Random(6), 10, 200_000);
            disk.FaultInjection = p =>
            {
                if (p == point)
                {
                    throw new SimulatedCrashException(p);
                }
            };

            // 6.5 MiB + 100 kB lands in block 6, which the earlier writes may or may not have allocated: use block 7.
            Assert.Throws<SimulatedCrashException>(() => disk.Write((7 * MiB) + 12345, update));
            Assert.Throws<ReplicationException>(() => disk.Write(0, new byte[1]));
        }

        byte[] after = (byte[])before.Clone();
        update.CopyTo(after, (7 * MiB) + 12345);
        byte[] expected = newStateVisible ? after : before;
        Assert.NotEqual(Guid.Empty, VhdxTestSupport.ReadCurrentHeader(path).LogGuid);

        // qemu replays our log the same way (it needs a writable "check -r all" to do so).
        string copy = dir.File("qemu.vhdx");
        File.Copy(path, copy);
        ExternalTool.RunChecked("qemu-img", "check", "-r", "all", "-f", "vhdx", copy);
        VhdxTestSupport.AssertBytesEqual(expected, VhdxTestSupport.QemuToRaw(copy, dir), "qemu after replaying our log");

        // Read-only: replayed in memory, the file is not touched.
        byte[] fileBefore = File.ReadAllBytes(path);
        using (VhdxDisk disk = VhdxTestSupport.Open(path, readOnly: true))
        {
            Assert.True(disk.IsLogReplayedInMemory);
            DiskAssert.ContentEquals(expected, disk);
        }

        Assert.True(fileBefore.AsSpan().SequenceEqual(File.ReadAllBytes(path)), "a read-only open must not modify the file");

        // Writable: replayed into the file, LogGuid cleared, and the file is clean for qemu.
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            Assert.NotNull(disk.LogReplay);
            Assert.False(disk.IsLogReplayedInMemory);
            DiskAssert.ContentEquals(expected, disk);
        }

        Assert.Equal(Guid.Empty, VhdxTestSupport.ReadCurrentHeader(path).LogGuid);
        VhdxTestSupport.QemuCheck(path);
        VhdxTestSupport.AssertBytesEqual(expected, VhdxTestSupport.QemuToRaw(path, dir), "qemu after our replay");
        using (VhdxDisk disk = VhdxTestSupport.Open(path, readOnly: true))
        {
            Assert.Null(disk.LogReplay);
            DiskAssert.ContentEquals(expected, disk);
        }
    }

    [Theory]
    [InlineData("before-log-write", false)]
    [InlineData("after-log-flush", true)]
    public void Crash_while_setting_sector_bitmap_bits_in_a_differencing_disk(string point, bool newStateVisible)
    {
        using var dir = new TempDirectory();
        string parent = dir.File("p.vhdx");
        string child = dir.File("c.vhdx");
        byte[] before = new byte[4 * MiB];
        using (VhdxDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, before.Length))
        {
            VhdxTestSupport.RandomWrites(p, before, new Random(8), 10, 400_000);
        }

        byte[] update = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        using (VhdxDisk c = VhdxTestSupport.Create(child, DiskType.Differencing, 0, MiB, parent: parent))
        {
            VhdxTestSupport.RandomWrites(c, before, new Random(9), 10, 3000);
            c.FaultInjection = p =>
            {
                if (p == point)
                {
                    throw new SimulatedCrashException(p);
                }
            };
            Assert.Throws<SimulatedCrashException>(() => c.Write((3 * MiB) + 777, update));
        }

        byte[] expected = (byte[])before.Clone();
        if (newStateVisible)
        {
            update.CopyTo(expected, (3 * MiB) + 777);
        }

        using (VirtualDisk c = VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess))
        {
            DiskAssert.ContentEquals(expected, c);
        }

        using (VirtualDisk c = VirtualDisk.Open(child))
        {
            DiskAssert.ContentEquals(expected, c);
        }

        Assert.Equal(Guid.Empty, VhdxTestSupport.ReadCurrentHeader(child).LogGuid);
        VhdxTestSupport.AssertBytesEqual(expected, VhdxTestSupport.VhdiRead(child, dir), "libvhdi after our replay");
    }

    [Fact]
    public void Log_wraps_around_and_replay_finds_the_newest_entry()
    {
        using var dir = new TempDirectory();
        string path = dir.File("wrap.vhdx");
        byte[] model = new byte[300L * MiB];
        using (VhdxDisk disk = VhdxTestSupport.Create(path, DiskType.Dynamic, model.Length))
        {
            // One allocation per write, each one log entry of two sectors: 300 of them wrap a 1 MiB log twice.
            for (int block = 0; block < 299; block++)
            {
                long offset = ((long)block * MiB) + (block * 7);
                disk.Write(offset, new[] { (byte)block, (byte)(block + 1) });
                model[offset] = (byte)block;
                model[offset + 1] = (byte)(block + 1);
            }

            disk.FaultInjection = p =>
            {
                if (p == "after-log-flush")
                {
                    throw new SimulatedCrashException(p);
                }
            };
            Assert.Throws<SimulatedCrashException>(() => disk.Write(299L * MiB, new byte[] { 0xEE }));
            model[299L * MiB] = 0xEE;
        }

        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            Assert.Equal(1, disk.LogReplay!.EntryCount);
            Assert.True(disk.LogReplay.HeadSequenceNumber > 256);
            DiskAssert.ContentEquals(model, disk);
        }

        VhdxTestSupport.QemuCheck(path);
        VhdxTestSupport.AssertBytesEqual(model, VhdxTestSupport.QemuToRaw(path, dir), "qemu after replay");
    }

    [Fact]
    public void Clean_close_leaves_an_empty_log_and_replay_is_not_needed()
    {
        using var dir = new TempDirectory();
        string path = dir.File("clean.vhdx");
        using (VhdxDisk disk = VhdxTestSupport.Create(path, DiskType.Dynamic, 4 * MiB))
        {
            disk.Write(MiB, new byte[] { 1 });
            Assert.NotEqual(Guid.Empty, disk.CurrentHeader.LogGuid);
        }

        Assert.Equal(Guid.Empty, VhdxTestSupport.ReadCurrentHeader(path).LogGuid);
        using VhdxDisk reopened = VhdxTestSupport.Open(path);
        Assert.Null(reopened.LogReplay);
    }
}
