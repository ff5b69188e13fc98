using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.TestChild;

namespace Replication.Core.Tests.Disks;

/// <summary>
/// A child process writes to a dynamic or differencing disk (allocating blocks as it goes), flushing after every write,
/// and is killed with SIGKILL at a random point. The file must then open valid, pass qemu-img check, and hold every
/// write the child acknowledged; only the one write in flight may be partly there.
/// </summary>
public sealed class DiskCrashTests
{
    private const long DiskSize = 24L << 20;
    private const int MaxWriteLength = 96 * 1024;
    private const int WritesPerRun = 400;

    public static TheoryData<DiskFormat, DiskType> Kinds => new()
    {
        { DiskFormat.Vhd, DiskType.Dynamic },
        { DiskFormat.Vhd, DiskType.Differencing },
        { DiskFormat.Vhdx, DiskType.Dynamic },
        { DiskFormat.Vhdx, DiskType.Differencing },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Killed_mid_allocation_keeps_every_acknowledged_write(DiskFormat format, DiskType type)
    {
        int runs = TestKnobs.Count("REPL_CRASH_RUNS", 12);
        var random = new Random(20261126 + (int)format * 10 + (int)type);
        for (int run = 0; run < runs; run++)
        {
            using var dir = new TempDirectory();
            string path = dir.File(format == DiskFormat.Vhd ? "disk.vhd" : "disk.vhdx");
            byte[] model = CreateDisk(dir, path, format, type);
            int seed = random.Next();
            int killAfter = random.Next(0, 60);

            int acknowledged = 0;
            using (ChildProcess child = ChildProcess.StartDotnet(RepoPaths.TestChildDll, "disk-writes", path, seed.ToString(System.Globalization.CultureInfo.InvariantCulture), WritesPerRun.ToString(System.Globalization.CultureInfo.InvariantCulture), MaxWriteLength.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                while (acknowledged < killAfter && child.ReadLine() is { } line && line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    acknowledged++;
                }

                child.Kill();
                while (child.ReadLine() is { } line && line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    acknowledged++;
                }
            }

            for (int i = 0; i < acknowledged; i++)
            {
                (long offset, byte[] data) = CrashWorkload.Write(seed, i, DiskSize, MaxWriteLength);
                data.CopyTo(model.AsSpan((int)offset));
            }

            (long inFlightOffset, byte[] inFlight) = CrashWorkload.Write(seed, acknowledged, DiskSize, MaxWriteLength);
            byte[] actual = new byte[DiskSize];
            using (VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
            {
                disk.Read(0, actual);
                for (int i = 0; i < actual.Length; i++)
                {
                    if (actual[i] != model[i])
                    {
                        bool inFlightByte = i >= inFlightOffset && i < inFlightOffset + inFlight.Length && actual[i] == inFlight[i - inFlightOffset];
                        Assert.True(inFlightByte, $"run {run} (seed {seed}, {acknowledged} acknowledged): byte {i} is 0x{actual[i]:X2}, expected 0x{model[i]:X2}");
                    }
                }
            }

            CheckWithIndependentReader(dir, path, format, type, actual);
        }
    }

    /// <summary>
    /// qemu-img check knows VHDX; for VHD it has no check, so a dynamic VHD must convert to the same bytes we read, and
    /// a differencing VHD (whose parent qemu ignores) must satisfy libvhdi.
    /// </summary>
    private static void CheckWithIndependentReader(TempDirectory dir, string path, DiskFormat format, DiskType type, byte[] actual)
    {
        if (format == DiskFormat.Vhdx)
        {
            // A crash mid-update leaves a log to replay. qemu replays it on a copy and must read what we read;
            // then our own replay (a writable open) must leave a file qemu-img check accepts as it is.
            if (type == DiskType.Dynamic)
            {
                string copy = dir.File("qemu-copy.vhdx");
                File.Copy(path, copy);
                ExternalTool.RunChecked("qemu-img", "check", "-r", "all", "-f", "vhdx", copy);
                string raw = dir.File("qemu.raw");
                ExternalTool.RunChecked("qemu-img", "convert", "-f", "vhdx", "-O", "raw", copy, raw);
                Assert.True(File.ReadAllBytes(raw).AsSpan().SequenceEqual(actual), "after replay, qemu-img reads other bytes than we do");
            }

            VirtualDisk.Open(path).Dispose();
            if (type == DiskType.Dynamic)
            {
                ExternalTool.RunChecked("qemu-img", "check", "-f", "vhdx", path);
            }
            else
            {
                ExternalTool.RunChecked("vhdiinfo", path);
            }

            using VirtualDisk replayed = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
            DiskAssert.ContentEquals(actual, replayed);
        }
        else if (type == DiskType.Dynamic)
        {
            string raw = dir.File("qemu.raw");
            ExternalTool.RunChecked("qemu-img", "convert", "-f", "vpc", "-O", "raw", path, raw);
            Assert.True(File.ReadAllBytes(raw).AsSpan().SequenceEqual(actual), "qemu-img reads other bytes than we do");
        }
        else
        {
            ExternalTool.RunChecked("vhdiinfo", path);
        }
    }

    private static byte[] CreateDisk(TempDirectory dir, string path, DiskFormat format, DiskType type)
    {
        byte[] model = new byte[DiskSize];
        int blockSize = format == DiskFormat.Vhd ? 512 * 1024 : 1 << 20;
        if (type == DiskType.Differencing)
        {
            string parentPath = dir.File(format == DiskFormat.Vhd ? "parent.vhd" : "parent.vhdx");
            using (VirtualDisk parent = VirtualDisk.Create(parentPath, new DiskCreateOptions { Format = format, Type = DiskType.Dynamic, VirtualSize = DiskSize, BlockSize = blockSize }))
            {
                new Random(7).NextBytes(model.AsSpan(0, 3 << 20));
                parent.Write(0, model.AsSpan(0, 3 << 20));
                parent.Flush();
            }

            using VirtualDisk child = VirtualDisk.Create(path, new DiskCreateOptions { Format = format, Type = DiskType.Differencing, ParentPath = parentPath, BlockSize = blockSize });
            child.Flush();
        }
        else
        {
            using VirtualDisk disk = VirtualDisk.Create(path, new DiskCreateOptions { Format = format, Type = DiskType.Dynamic, VirtualSize = DiskSize, BlockSize = blockSize });
            disk.Flush();
        }

        return model;
    }
}
