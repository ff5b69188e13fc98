using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

public sealed class VhdxDifferencingTests
{
    private const int MiB = VhdxTestSupport.MiB;

    [Theory]
    [InlineData(2, 512)]
    [InlineData(3, 512)]
    [InlineData(3, 4096)]
    public void Chain_reads_and_writes_match_a_flat_model(int levels, int sectorSize)
    {
        using var dir = new TempDirectory();
        const long Size = 6 * MiB;
        var random = new Random((levels * 31) + sectorSize);
        var models = new List<byte[]>();
        var paths = new List<string>();
        byte[] model = new byte[Size];
        for (int level = 0; level < levels; level++)
        {
            string path = dir.File($"level{level}.vhdx");
            using VhdxDisk disk = level == 0
                ? VhdxTestSupport.Create(path, DiskType.Dynamic, Size, MiB, sectorSize)
                : VhdxTestSupport.Create(path, DiskType.Differencing, 0, MiB, sectorSize, paths[^1]);
            Assert.Equal(level == 0 ? DiskType.Dynamic : DiskType.Differencing, disk.DiskType);
            Assert.Equal(Size, disk.VirtualSize);
            Assert.Equal(sectorSize, disk.LogicalSectorSize);
            DiskAssert.ContentEquals(model, disk);

            // Small unaligned writes make partially present blocks and sub-sector merges with the parent.
            VhdxTestSupport.RandomWrites(disk, model, random, 40, 3000);
            VhdxTestSupport.RandomWrites(disk, model, random, 4, 600_000);
            DiskAssert.ContentEquals(model, disk);
            AssertExtentsCoverData(disk, model);
            models.Add((byte[])model.Clone());
            paths.Add(path);
        }

        for (int level = 0; level < levels; level++)
        {
            using VirtualDisk reopened = VirtualDisk.Open(paths[level], DiskOpenOptions.ReadOnlyAccess);
            DiskAssert.ContentEquals(models[level], reopened);
            Assert.Equal(level, Depth(reopened));
        }

        // Writing again into the top of the reopened chain.
        using (VirtualDisk top = VirtualDisk.Open(paths[^1]))
        {
            VhdxTestSupport.RandomWrites(top, model, random, 30, 5000);
            DiskAssert.ContentEquals(model, top);
        }

        using (VirtualDisk final = VirtualDisk.Open(paths[^1], DiskOpenOptions.ReadOnlyAccess))
        {
            DiskAssert.ContentEquals(model, final);
        }

        // libvhdi, an independent reader of differencing VHDX, sees the same bytes through the whole chain.
        VhdxTestSupport.AssertBytesEqual(model, VhdxTestSupport.VhdiRead(paths[^1], dir), "libvhdi's reading of the chain");
        Assert.Contains("Differential", ExternalTool.RunChecked("vhdiinfo", paths[^1]), StringComparison.Ordinal);
    }

    [Fact]
    public void Fully_written_block_becomes_fully_present_and_partial_blocks_keep_parent_data()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("p.vhdx");
        string child = dir.File("c.vhdx");
        byte[] model = new byte[4 * MiB];
        using (VhdxDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, model.Length))
        {
            Array.Fill(model, (byte)0x5A);
            p.Write(0, model);
        }

        // No block size: the Hyper-V default of 2 MiB for differencing disks.
        using (var c = (VhdxDisk)VirtualDisk.Create(child, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Differencing, ParentPath = parent }))
        {
            Assert.Equal(2 * MiB, c.BlockSize);
            byte[] block = new byte[2 * MiB];
            Array.Fill(block, (byte)0xC3);
            c.Write(0, block.AsSpan(0, MiB));
            c.Write(MiB, block.AsSpan(0, MiB));
            block.CopyTo(model, 0);
            Assert.Equal(6, c.PayloadEntry(0).State);

            c.Write((2 * MiB) + 1000, new byte[] { 1, 2, 3 });
            new byte[] { 1, 2, 3 }.CopyTo(model, (2 * MiB) + 1000);
            Assert.Equal(7, c.PayloadEntry(1).State);
            Assert.Equal(4 * MiB, c.AllocatedBytes);
            DiskAssert.ContentEquals(model, c);
        }

        using VirtualDisk reopened = VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess);
        DiskAssert.ContentEquals(model, reopened);
    }

    [Fact]
    public void Parent_is_found_by_relative_path_after_the_folder_moves()
    {
        using var dir = new TempDirectory();
        string original = Path.Combine(dir.Path, "a");
        string sub = Path.Combine(original, "sub");
        Directory.CreateDirectory(sub);
        string parent = Path.Combine(original, "base.vhdx");
        string child = Path.Combine(sub, "child.vhdx");
        byte[] model = new byte[3 * MiB];
        using (VhdxDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, model.Length))
        {
            VhdxTestSupport.RandomWrites(p, model, new Random(3), 10, 50_000);
        }

        using (VhdxDisk c = VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
            VhdxTestSupport.RandomWrites(c, model, new Random(4), 10, 50_000);
        }

        string moved = Path.Combine(dir.Path, "b");
        Directory.Move(original, moved);
        using VirtualDisk reopened = VirtualDisk.Open(Path.Combine(moved, "sub", "child.vhdx"), DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(Path.Combine(moved, "base.vhdx"), reopened.Parent!.FilePath);
        DiskAssert.ContentEquals(model, reopened);
    }

    [Fact]
    public void Parent_is_found_by_absolute_path_when_only_the_child_moves()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        string child = dir.File("child.vhdx");
        using (VhdxTestSupport.Create(parent, DiskType.Dynamic, 2 * MiB))
        {
        }

        using (VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
        }

        Directory.CreateDirectory(dir.File("elsewhere"));
        string movedChild = Path.Combine(dir.File("elsewhere"), "child.vhdx");
        File.Move(child, movedChild);
        using VirtualDisk reopened = VirtualDisk.Open(movedChild, DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(parent, reopened.Parent!.FilePath);
    }

    [Fact]
    public void Locator_paths_round_trip()
    {
        string child = Path.Combine(Path.GetTempPath(), "x", "y", "child.vhdx");
        string parent = Path.Combine(Path.GetTempPath(), "x", "base.vhdx");
        List<KeyValuePair<string, string>> pairs = VhdxDisk.ParentPaths(child, parent);
        string relative = pairs.Single(p => p.Key == "relative_path").Value;
        string absolute = pairs.Single(p => p.Key == "absolute_win32_path").Value;
        Assert.Equal(@"..\base.vhdx", relative);
        Assert.StartsWith(@"\\?\", absolute, StringComparison.Ordinal);
        Assert.Equal(parent, VhdxDisk.ResolveParentPath("relative_path", relative, Path.GetDirectoryName(child)!));
        Assert.Equal(parent, VhdxDisk.ResolveParentPath("absolute_win32_path", absolute, "/"));
        Assert.Equal(@".\base.vhdx", VhdxDisk.ParentPaths(parent + "-child", parent).Single(p => p.Key == "relative_path").Value);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Null(VhdxDisk.ResolveParentPath("absolute_win32_path", @"\\?\d:\path2\sub3\parent.vhdx", "/"));
            Assert.Null(VhdxDisk.ResolveParentPath("volume_path", @"\\?\Volume{26A21BDA-A627-11D7-9931-806E6F6E6963}\p.vhdx", "/"));
        }
    }

    [Fact]
    public void Modified_parent_breaks_the_linkage()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        string child = dir.File("child.vhdx");
        using (VhdxTestSupport.Create(parent, DiskType.Dynamic, 2 * MiB))
        {
        }

        using (VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
        }

        // Opening the parent without writing keeps its DataWriteGuid; a write renews it.
        using (VirtualDisk p = VirtualDisk.Open(parent))
        {
        }

        using (VirtualDisk c = VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess))
        {
        }

        using (VirtualDisk p = VirtualDisk.Open(parent))
        {
            p.Write(0, new byte[] { 1 });
        }

        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess));
        Assert.Equal(child, ex.FilePath);
        Assert.Equal("VHDX parent locator.parent_linkage", ex.Field);
        Assert.True(ex.Offset > 0);
    }

    [Fact]
    public void Missing_parent_is_reported_with_the_paths_tried()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        string child = dir.File("child.vhdx");
        using (VhdxTestSupport.Create(parent, DiskType.Dynamic, 2 * MiB))
        {
        }

        using (VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
        }

        File.Delete(parent);
        var ex = Assert.Throws<ReplicationException>(() => VirtualDisk.Open(child));
        Assert.Equal(ReplicationErrorCode.ParentNotFound, ex.Code);
        Assert.Contains("relative_path", ex.Message, StringComparison.Ordinal);
        Assert.Contains(parent, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cyclic_parent_is_rejected()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        string child = dir.File("child.vhdx");
        using (VhdxTestSupport.Create(parent, DiskType.Dynamic, 2 * MiB))
        {
        }

        using (VhdxTestSupport.Create(child, DiskType.Differencing, 0, parent: parent))
        {
        }

        // base.vhdx becomes a copy of the child, whose locator names base.vhdx: base is its own parent.
        File.Copy(child, parent, overwrite: true);
        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(child, DiskOpenOptions.ReadOnlyAccess));
        Assert.Contains("cycle", ex.Message, StringComparison.Ordinal);
        Assert.Equal(parent, ex.FilePath);
    }

    [Fact]
    public void Differencing_disk_needs_a_vhdx_parent()
    {
        using var dir = new TempDirectory();
        string raw = dir.File("base.raw");
        using (VirtualDisk.Create(raw, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = MiB }))
        {
        }

        Assert.Throws<ArgumentException>(() => VhdxTestSupport.Create(dir.File("c.vhdx"), DiskType.Differencing, 0, parent: raw));
        Assert.False(File.Exists(dir.File("c.vhdx")));
        Assert.Throws<ReplicationException>(() => VhdxTestSupport.Create(dir.File("d.vhdx"), DiskType.Differencing, 0, parent: dir.File("missing.vhdx")));
    }

    [Fact]
    public void Extents_of_a_child_include_the_parents()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        string child = dir.File("child.vhdx");
        using (VhdxDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, 8 * MiB))
        {
            p.Write(MiB + 10, new byte[] { 1 });
            p.Write(6 * MiB, new byte[] { 1 });
        }

        using VhdxDisk c = VhdxTestSupport.Create(child, DiskType.Differencing, 0, MiB, parent: parent);
        c.Write(2 * MiB, new byte[] { 2 });
        c.Write(7 * MiB, new byte[] { 2 });
        Assert.Equal(
            [new DiskExtent(MiB, 2 * MiB), new DiskExtent(6 * MiB, 2 * MiB)],
            c.GetAllocatedExtents(0, c.VirtualSize).ToArray());
        Assert.Equal([new DiskExtent(MiB + 5, MiB - 5)], c.GetAllocatedExtents(MiB + 5, MiB - 5).ToArray());
        Assert.True(c.IsKnownZero(3 * MiB, 3 * MiB));
        Assert.False(c.IsKnownZero(0, 2 * MiB));
        Assert.Equal(2 * MiB, c.AllocatedBytes);
    }

    private static int Depth(IVirtualDisk disk) => disk.Parent is null ? 0 : 1 + Depth(disk.Parent);

    /// <summary>Every non-zero byte of the model lies inside a reported extent.</summary>
    internal static void AssertExtentsCoverData(IVirtualDisk disk, byte[] model)
    {
        long position = 0;
        foreach (DiskExtent extent in disk.GetAllocatedExtents(0, disk.VirtualSize))
        {
            Assert.True(extent.Offset >= position, "extents are ascending and disjoint");
            Assert.False(model.AsSpan((int)position, (int)(extent.Offset - position)).ContainsAnyExcept((byte)0), $"data outside the extents before {extent.Offset}");
            position = extent.End;
        }

        Assert.False(model.AsSpan((int)position).ContainsAnyExcept((byte)0), $"data outside the extents after {position}");
    }
}
