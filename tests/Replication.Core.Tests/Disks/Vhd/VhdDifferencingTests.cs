using System.Text;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Disks.Vhd.VhdTestSupport;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>Differencing chains: reads through parents, writes that merge parent data, and how the parent is found (or refused).</summary>
public sealed class VhdDifferencingTests
{
    private const long Size = (5 * MiB) + (3 * 512);

    [Theory]
    [InlineData(2, null)]
    [InlineData(3, null)]
    [InlineData(3, 64 * KiB)]
    [InlineData(2, 4 * KiB)]
    public void Chain_ReadsLikeModel_AfterRandomWritesAtEachLevel(int levels, int? blockSize)
    {
        using var dir = new TempDirectory();
        byte[] model = new byte[Size];
        var random = new Random(levels * 1000 + (blockSize ?? 0));
        string path = BuildChain(dir, levels, blockSize, model, random);

        using VirtualDisk top = VirtualDisk.Open(path);
        Assert.Equal(DiskType.Differencing, top.DiskType);
        Assert.Equal(Size, top.VirtualSize);
        DiskAssert.ContentEquals(model, top);
        VhdQemuInteropTests.AssertExtentsCoverData(model, top);

        // The parent is never written through the child.
        IVirtualDisk? parent = top.Parent;
        Assert.NotNull(parent);
        Assert.True(parent.IsReadOnly);
    }

    [Fact]
    public void Child_PartialSectorWrites_MergeParentData()
    {
        using var dir = new TempDirectory();
        byte[] model = new byte[Size];
        new Random(7).NextBytes(model);
        string basePath = dir.File("base.vhd");
        using (VirtualDisk b = VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size, 64 * KiB)))
        {
            b.Write(0, model);
        }

        using VirtualDisk child = VirtualDisk.Create(dir.File("child.vhd"), Options(DiskType.Differencing, 0, 64 * KiB, basePath));

        // One byte in the middle of a sector of an unallocated block, then its neighbours, then a run crossing blocks.
        (long Offset, int Length)[] writes = [(1000, 1), (999, 1), (1001, 700), ((64 * KiB) - 10, 30), ((128 * KiB) + 511, 2), (Size - 3, 3)];
        byte value = 0xA0;
        foreach ((long offset, int length) in writes)
        {
            byte[] data = Enumerable.Repeat(value++, length).ToArray();
            child.Write(offset, data);
            data.CopyTo(model, offset);
        }

        DiskAssert.ContentEquals(model, child);
    }

    [Fact]
    public void Child_FindsParentByRelativeLocator_AfterTheFolderMoves()
    {
        using var dir = new TempDirectory();
        string before = Path.Combine(dir.Path, "before");
        Directory.CreateDirectory(Path.Combine(before, "base"));
        Directory.CreateDirectory(Path.Combine(before, "child"));
        byte[] model = new byte[Size];
        var random = new Random(3);
        using (VirtualDisk b = VirtualDisk.Create(Path.Combine(before, "base", "base.vhd"), Options(DiskType.Dynamic, Size)))
        {
            RandomWrites(b, model, random, 20, 100_000);
        }

        using (VirtualDisk c = VirtualDisk.Create(Path.Combine(before, "child", "child.vhd"), Options(DiskType.Differencing, 0, null, Path.Combine(before, "base", "base.vhd"))))
        {
            RandomWrites(c, model, random, 20, 100_000);
        }

        string after = Path.Combine(dir.Path, "after");
        Directory.Move(before, after);

        using VirtualDisk moved = VirtualDisk.Open(Path.Combine(after, "child", "child.vhd"), DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(Path.Combine(after, "base", "base.vhd"), moved.Parent!.FilePath);
        DiskAssert.ContentEquals(model, moved);
    }

    [Fact]
    public void Child_StoresWindowsStyleLocatorsAndName()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("base.vhd");
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();
        using var child = (VhdDisk)VirtualDisk.Create(dir.File("child.vhd"), Options(DiskType.Differencing, 0, null, basePath));
        VhdDynamicHeader header = child.Layout.Header;
        Assert.Equal("base.vhd", header.ParentUnicodeName);
        byte[] file = File.ReadAllBytes(child.FilePath!);
        VhdParentLocator relative = header.ParentLocators.Single(l => l.PlatformCode == VhdParentLocator.PlatformW2ru);
        VhdParentLocator absolute = header.ParentLocators.Single(l => l.PlatformCode == VhdParentLocator.PlatformW2ku);
        Assert.Equal(@".\base.vhd", Encoding.Unicode.GetString(file, (int)relative.PlatformDataOffset, (int)relative.PlatformDataLength));
        Assert.Equal(basePath.Replace('/', '\\'), Encoding.Unicode.GetString(file, (int)absolute.PlatformDataOffset, (int)absolute.PlatformDataLength));
        Assert.Equal(0u, relative.PlatformDataSpace % 512);

        // libvhdi reads the link as well.
        string info = VhdQemuInteropTests.AssertVhdiinfoAgrees(child.FilePath!, Size);
        Assert.Contains("Differential", info, StringComparison.Ordinal);
        Assert.Matches(@"Parent filename\s*:\s*base\.vhd", info);
    }

    [Fact]
    public void Child_FindsParentByUnicodeName_WhenLocatorsAreUnusable()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("base.vhd");
        string childPath = dir.File("child.vhd");
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();
        VirtualDisk.Create(childPath, Options(DiskType.Differencing, 0, null, basePath)).Dispose();

        // Unknown platform codes are skipped, leaving the name in the header.
        PatchHeader(childPath, h =>
        {
            for (int i = 0; i < VhdDynamicHeader.ParentLocatorCount; i++)
            {
                h[VhdDynamicHeader.ParentLocatorsOffset + (i * VhdParentLocator.Size)] = (byte)'Z';
            }
        });

        using VirtualDisk child = VirtualDisk.Open(childPath);
        Assert.Equal(basePath, child.Parent!.FilePath);
    }

    [Fact]
    public void WrongParentUniqueId_IsInvalidFormat()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("base.vhd");
        string childPath = dir.File("child.vhd");
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();
        VirtualDisk.Create(childPath, Options(DiskType.Differencing, 0, null, basePath)).Dispose();

        // Another disk under the parent's name: same path, different unique id.
        File.Delete(basePath);
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();

        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(childPath));
        Assert.Equal("VHD dynamic header.ParentUniqueId", ex.Field);
        Assert.Equal(childPath, ex.FilePath);
        Assert.Equal(512 + VhdDynamicHeader.ParentUniqueIdOffset, ex.Offset);
    }

    [Fact]
    public void MissingParent_IsParentNotFound()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("base.vhd");
        string childPath = dir.File("child.vhd");
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();
        VirtualDisk.Create(childPath, Options(DiskType.Differencing, 0, null, basePath)).Dispose();
        File.Delete(basePath);

        var ex = Assert.Throws<ReplicationException>(() => VirtualDisk.Open(childPath));
        Assert.Equal(ReplicationErrorCode.ParentNotFound, ex.Code);
        Assert.Contains(basePath, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChildWhoseLocatorsNameItself_IsACycle()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("b.vhd");
        string childPath = dir.File("a.vhd");
        VirtualDisk.Create(basePath, Options(DiskType.Dynamic, Size)).Dispose();
        VirtualDisk.Create(childPath, Options(DiskType.Differencing, 0, null, basePath)).Dispose();
        RenameParentInLocators(childPath, "b.vhd", "a.vhd");

        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(childPath));
        Assert.Contains("cycle", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoDisksNamingEachOther_AreACycle()
    {
        using var dir = new TempDirectory();
        string c = dir.File("c.vhd");
        string b = dir.File("b.vhd");
        string a = dir.File("a.vhd");
        VirtualDisk.Create(c, Options(DiskType.Dynamic, Size)).Dispose();
        VirtualDisk.Create(b, Options(DiskType.Differencing, 0, null, c)).Dispose();
        VirtualDisk.Create(a, Options(DiskType.Differencing, 0, null, b)).Dispose();
        RenameParentInLocators(b, "c.vhd", "a.vhd");

        Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(a));
    }

    [Fact]
    public void CreateDifferencing_RefusesNonVhdParentAndWrongSize()
    {
        using var dir = new TempDirectory();
        string raw = dir.File("base.raw");
        VirtualDisk.Create(raw, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = MiB }).Dispose();
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("c1.vhd"), Options(DiskType.Differencing, 0, null, raw)));

        string vhd = dir.File("base.vhd");
        VirtualDisk.Create(vhd, Options(DiskType.Dynamic, MiB)).Dispose();
        Assert.Throws<ArgumentException>(() => VirtualDisk.Create(dir.File("c2.vhd"), Options(DiskType.Differencing, 2 * MiB, null, vhd)));
        Assert.False(File.Exists(dir.File("c1.vhd")));
        Assert.False(File.Exists(dir.File("c2.vhd")));
    }

    [Fact]
    public void ChildOfFixedParent_ReadsThroughAndReportsUnionOfExtents()
    {
        using var dir = new TempDirectory();
        string basePath = dir.File("base.vhd");
        byte[] model = new byte[4 * MiB];
        using (VirtualDisk b = VirtualDisk.Create(basePath, Options(DiskType.Fixed, 4 * MiB)))
        {
            b.Write(100, [1, 2, 3]);
            model[100] = 1;
            model[101] = 2;
            model[102] = 3;
        }

        using VirtualDisk child = VirtualDisk.Create(dir.File("child.vhd"), Options(DiskType.Differencing, 0, 512 * KiB, basePath));
        child.Write(3 * MiB, [9]);
        model[3 * MiB] = 9;
        DiskAssert.ContentEquals(model, child);
        Assert.Equal(512 * KiB, child.AllocatedBytes);
        DiskExtent[] extents = [.. child.GetAllocatedExtents(0, child.VirtualSize)];
        Assert.Contains(extents, e => e.Offset <= 100 && e.End >= 103);
        Assert.Contains(new DiskExtent(3 * MiB, 512 * KiB), extents);
    }

    /// <summary>
    /// Builds base (dynamic) plus <paramref name="levels"/> - 1 differencing children, random writes at each level
    /// applied to <paramref name="model"/>; returns the top's path.
    /// </summary>
    internal static string BuildChain(TempDirectory dir, int levels, int? blockSize, byte[] model, Random random)
    {
        string path = dir.File("level0.vhd");
        using (VirtualDisk disk = VirtualDisk.Create(path, Options(DiskType.Dynamic, model.Length, blockSize)))
        {
            RandomWrites(disk, model, random, 25, 150_000);
        }

        for (int level = 1; level < levels; level++)
        {
            string child = dir.File($"level{level}.vhd");
            using (VirtualDisk disk = VirtualDisk.Create(child, Options(DiskType.Differencing, 0, blockSize, path)))
            {
                RandomWrites(disk, model, random, 25, 150_000);

                // Zeros over parent data must stick (a child cannot skip allocating them).
                (long offset, int length) = RandomRange(random, model.Length, 20_000);
                disk.Write(offset, new byte[length]);
                Array.Clear(model, (int)offset, length);
            }

            path = child;
        }

        return path;
    }

    /// <summary>Rewrites the parent's file name inside a child's locator data (same length, so no sizes change).</summary>
    private static void RenameParentInLocators(string childPath, string from, string to)
    {
        byte[] file = File.ReadAllBytes(childPath);
        byte[] needle = Encoding.Unicode.GetBytes(from);
        byte[] replacement = Encoding.Unicode.GetBytes(to);
        int replaced = 0;
        // Locator data follows the header; the header's own UTF-16BE name is checksummed and left alone.
        for (int i = VhdFooter.Size + VhdDynamicHeader.Size; i + needle.Length <= file.Length - VhdFooter.Size; i++)
        {
            if (file.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                replacement.CopyTo(file, i);
                replaced++;
            }
        }

        Assert.Equal(2, replaced);
        File.WriteAllBytes(childPath, file);
    }
}
