using System.Buffers.Binary;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Disks.Vhd.VhdTestSupport;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>
/// Damaged and hostile files: every failure is an <see cref="InvalidDiskFormatException"/> naming the file, an offset
/// inside it and a "VHD ..." field, found without a large allocation; a file that still opens reads its data intact.
/// </summary>
public sealed class VhdBadInputTests
{
    private const long DynamicSize = (64 * KiB) + (3 * 512);
    private const int SmallBlock = 4 * KiB;

    /// <summary>Opening any of these files may allocate this much at most (the files are a few KiB).</summary>
    private const long AllocationBudget = 1 * MiB;

    private enum Expect
    {
        /// <summary>Must throw InvalidDiskFormatException.</summary>
        Reject,

        /// <summary>Must open and read exactly the original data.</summary>
        Intact,

        /// <summary>Either rejects, or opens and reads something without any other exception.</summary>
        Either,
    }

    [Fact]
    public void Truncation_AtEveryInterestingLength_RejectsOrReadsIntact()
    {
        using var dir = new TempDirectory();
        foreach ((string kind, string original, byte[] model) in Samples(dir))
        {
            byte[] bytes = File.ReadAllBytes(original);
            var lengths = new SortedSet<int>();
            for (int l = 0; l < Math.Min(bytes.Length, 2048); l++)
            {
                lengths.Add(l);
            }

            for (int l = 0; l < bytes.Length; l += 512)
            {
                lengths.Add(l);
            }

            for (int l = Math.Max(0, bytes.Length - 512); l < bytes.Length; l++)
            {
                lengths.Add(l);
            }

            string path = Path.Combine(Path.GetDirectoryName(original)!, "cut-" + Path.GetFileName(original));
            foreach (int length in lengths)
            {
                File.WriteAllBytes(path, bytes.AsSpan(0, length).ToArray());

                // A fixed disk cut short has lost its footer: nothing can tell it from raw data any more.
                Check(path, model, kind == "fixed" ? Expect.Reject : Expect.Either, $"{kind} cut at {length}", intactIfOpened: true);
            }
        }
    }

    public static TheoryData<string, int, ulong, bool> FooterCases() => new()
    {
        // kind, field offset, value (big-endian, field width from the table), checksum recomputed
        { "dynamic", VhdFooter.CookieOffset, 0x636F6E6563746979, true },
        { "dynamic", VhdFooter.FormatVersionOffset, 0x0002_0000, true },
        { "dynamic", VhdFooter.DataOffsetOffset, 0, true },
        { "dynamic", VhdFooter.DataOffsetOffset, 1, true },
        { "dynamic", VhdFooter.DataOffsetOffset, ulong.MaxValue, true },
        { "dynamic", VhdFooter.DataOffsetOffset, 1UL << 62, true },
        { "dynamic", VhdFooter.DataOffsetOffset, 100_000, true },
        { "dynamic", VhdFooter.CurrentSizeOffset, 1UL << 62, true },
        { "dynamic", VhdFooter.CurrentSizeOffset, 513, true },
        { "dynamic", VhdFooter.CurrentSizeOffset, 0x7FFF_FFFF_FFFF_FE00, true },
        { "dynamic", VhdFooter.CurrentSizeOffset, 2040UL << 30, true },
        { "dynamic", VhdFooter.CurrentSizeOffset, DynamicSize + (1 << 20), true },
        { "dynamic", VhdFooter.DiskTypeOffset, 0, true },
        { "dynamic", VhdFooter.DiskTypeOffset, 1, true },
        { "dynamic", VhdFooter.DiskTypeOffset, 5, true },
        { "dynamic", VhdFooter.DiskTypeOffset, uint.MaxValue, true },
        { "dynamic", VhdFooter.ChecksumOffset, 0x1234_5678, false },
        { "fixed", VhdFooter.CookieOffset, 0, true },
        { "fixed", VhdFooter.FormatVersionOffset, 0, true },
        { "fixed", VhdFooter.CurrentSizeOffset, 1UL << 62, true },
        { "fixed", VhdFooter.CurrentSizeOffset, 64 * KiB, true },
        { "fixed", VhdFooter.CurrentSizeOffset, 100, true },
        { "fixed", VhdFooter.DiskTypeOffset, 6, true },
        { "fixed", VhdFooter.ChecksumOffset, 0, false },
        { "differencing", VhdFooter.DataOffsetOffset, 3, true },
        { "differencing", VhdFooter.DiskTypeOffset, 0, true },
    };

    [Theory]
    [MemberData(nameof(FooterCases))]
    public void FooterField_Corrupted_IsRejected(string kind, int fieldOffset, ulong value, bool fixChecksum)
    {
        using var dir = new TempDirectory();
        (_, string path, byte[] model) = Samples(dir).Single(s => s.Kind == kind);
        PatchFooter(path, f => WriteField(f, fieldOffset, FooterFieldWidth(fieldOffset), value), fixChecksum);
        Check(path, model, Expect.Reject, $"{kind} footer+{fieldOffset}={value:X}");
    }

    [Fact]
    public void FooterFields_NotValidated_StillOpenIntact()
    {
        using var dir = new TempDirectory();
        foreach ((string kind, string original, byte[] model) in Samples(dir))
        {
            string path = original + ".patched";
            foreach (int offset in (int[])[VhdFooter.FeaturesOffset, VhdFooter.TimeStampOffset, VhdFooter.CreatorApplicationOffset, VhdFooter.CreatorVersionOffset, VhdFooter.CreatorHostOsOffset, VhdFooter.OriginalSizeOffset, VhdFooter.CylindersOffset, VhdFooter.UniqueIdOffset, VhdFooter.SavedStateOffset, 300, 511])
            {
                File.Copy(original, path, overwrite: true);
                PatchFooter(path, f => f[offset] ^= 0x5A);
                Check(path, model, Expect.Intact, $"{kind} footer byte {offset}");
            }
        }
    }

    [Fact]
    public void EndFooterDamaged_CopyAtZeroIsUsed_AndWritesRepairTheEnd()
    {
        using var dir = new TempDirectory();
        (_, string path, byte[] model) = Samples(dir).Single(s => s.Kind == "dynamic");
        PatchFooter(path, f => f[VhdFooter.DiskTypeOffset + 3] = 9, fixChecksum: false, copyToo: false);

        using (var disk = (VhdDisk)VirtualDisk.Open(path))
        {
            Assert.Equal(-1, disk.Layout.FooterOffset);
            DiskAssert.ContentEquals(model, disk);
            RandomWrites(disk, model, new Random(5), 10, 20_000);
            disk.Flush();
        }

        using (var disk = (VhdDisk)VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        {
            Assert.True(disk.Layout.FooterOffset > 0, "a block allocated after the fallback ends the file with a valid footer again");
            DiskAssert.ContentEquals(model, disk);
        }

        VhdQemuInteropTests.AssertQemuAgrees(path, DynamicSize, model);
    }

    public static TheoryData<string, int, ulong, bool> HeaderCases() => new()
    {
        { "dynamic", VhdDynamicHeader.CookieOffset, 0, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, 0, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, 1, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, 512, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, 1UL << 63, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, ulong.MaxValue, true },
        { "dynamic", VhdDynamicHeader.TableOffsetOffset, 1_000_000, true },
        { "dynamic", VhdDynamicHeader.HeaderVersionOffset, 0x0002_0000, true },
        { "dynamic", VhdDynamicHeader.HeaderVersionOffset, 0, true },
        { "dynamic", VhdDynamicHeader.MaxTableEntriesOffset, 0, true },
        { "dynamic", VhdDynamicHeader.MaxTableEntriesOffset, 1, true },
        { "dynamic", VhdDynamicHeader.MaxTableEntriesOffset, 1U << 31, true },
        { "dynamic", VhdDynamicHeader.MaxTableEntriesOffset, uint.MaxValue, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 0, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 1, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 3, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 512, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 2048, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 4097, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, 1U << 31, true },
        { "dynamic", VhdDynamicHeader.BlockSizeOffset, uint.MaxValue, true },
        { "dynamic", VhdDynamicHeader.ChecksumOffset, 0, false },
        { "differencing", VhdDynamicHeader.ParentUniqueIdOffset, 0x0102_0304_0506_0708, true },
        { "differencing", VhdDynamicHeader.ParentLocatorsOffset + VhdParentLocator.PlatformDataOffsetOffset, 1UL << 62, true },
        { "differencing", VhdDynamicHeader.ParentLocatorsOffset + VhdParentLocator.PlatformDataOffsetOffset, 1_000_000, true },
        { "differencing", VhdDynamicHeader.ParentLocatorsOffset + VhdParentLocator.PlatformDataLengthOffset, uint.MaxValue, true },
        { "differencing", VhdDynamicHeader.ParentLocatorsOffset + VhdParentLocator.PlatformDataLengthOffset, 1_000_000, true },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void HeaderField_Corrupted_IsRejected(string kind, int fieldOffset, ulong value, bool fixChecksum)
    {
        using var dir = new TempDirectory();
        (_, string path, byte[] model) = Samples(dir).Single(s => s.Kind == kind);
        PatchHeader(path, h => WriteField(h, fieldOffset, HeaderFieldWidth(fieldOffset), value), fixChecksum);
        InvalidDiskFormatException ex = Check(path, model, Expect.Reject, $"{kind} header+{fieldOffset}={value:X}")!;
        Assert.StartsWith("VHD", ex.Field, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryField_CorruptedWithoutItsChecksum_IsCaughtByCookieOrChecksum()
    {
        using var dir = new TempDirectory();
        int[] footerFields = [0, 8, 12, 16, 24, 28, 32, 36, 40, 48, 56, 58, 59, 60, 64, 68, 84, 85, 511];
        int[] headerFields = [0, 8, 16, 24, 28, 32, 36, 40, 56, 60, 64, 575, 576, 580, 584, 592, 767, 768, 1023];
        foreach ((string kind, string original, byte[] model) in Samples(dir))
        {
            string path = original + ".patched";
            foreach (int offset in footerFields)
            {
                File.Copy(original, path, overwrite: true);
                PatchFooter(path, f => f[offset] ^= 0x10, fixChecksum: false);
                InvalidDiskFormatException ex = Check(path, model, Expect.Reject, $"{kind} footer byte {offset}")!;
                Assert.Equal(offset < 8 ? "VHD footer.Cookie" : "VHD footer.Checksum", ex.Field);
                Assert.Equal(new FileInfo(path).Length - 512 + (offset < 8 ? 0 : VhdFooter.ChecksumOffset), ex.Offset);
            }

            if (kind == "fixed")
            {
                continue;
            }

            foreach (int offset in headerFields)
            {
                File.Copy(original, path, overwrite: true);
                PatchHeader(path, h => h[offset] ^= 0x10, fixChecksum: false);
                InvalidDiskFormatException ex = Check(path, model, Expect.Reject, $"{kind} header byte {offset}")!;
                Assert.Equal(offset < 8 ? "VHD dynamic header.Cookie" : "VHD dynamic header.Checksum", ex.Field);
                Assert.Equal(512 + (offset < 8 ? 0 : VhdDynamicHeader.ChecksumOffset), ex.Offset);
            }
        }
    }

    [Fact]
    public void HeaderFields_NotUsedByADynamicDisk_StillOpenIntact()
    {
        using var dir = new TempDirectory();
        (_, string original, byte[] model) = Samples(dir).Single(s => s.Kind == "dynamic");
        string path = original + ".patched";
        foreach (int offset in (int[])[VhdDynamicHeader.DataOffsetOffset, VhdDynamicHeader.ParentUniqueIdOffset, VhdDynamicHeader.ParentTimeStampOffset, 60, VhdDynamicHeader.ParentUnicodeNameOffset, VhdDynamicHeader.ParentLocatorsOffset + 19, 800, 1023])
        {
            File.Copy(original, path, overwrite: true);
            PatchHeader(path, h => h[offset] ^= 0xA5);
            Check(path, model, Expect.Intact, $"header byte {offset}");
        }
    }

    [Fact]
    public void BlockAllocationTable_BadEntries_AreRejected()
    {
        using var dir = new TempDirectory();
        (_, string original, byte[] model) = Samples(dir).Single(s => s.Kind == "dynamic");
        byte[] bytes = File.ReadAllBytes(original);
        const int bat = 1536;
        int allocated = Enumerable.Range(0, 17).First(i => BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bat + (4 * i))) != uint.MaxValue);
        int other = Enumerable.Range(allocated + 1, 16).First(i => BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bat + (4 * i))) != uint.MaxValue);
        uint otherValue = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bat + (4 * other)));
        string path = original + ".patched";
        foreach (uint value in (uint[])[0, 1, 2, 3, 0xFFFF_FFFE, (uint)(bytes.Length / 512), otherValue, otherValue + 1, otherValue - 1])
        {
            byte[] copy = (byte[])bytes.Clone();
            BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(bat + (4 * allocated)), value);
            File.WriteAllBytes(path, copy);
            InvalidDiskFormatException ex = Check(path, model, Expect.Reject, $"BAT[{allocated}]={value}")!;
            Assert.StartsWith("VHD block allocation table[", ex.Field, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RandomBitFlips_InStructures_RejectOrOpen()
    {
        using var dir = new TempDirectory();
        var random = new Random(20240601);
        foreach ((string kind, string original, byte[] model) in Samples(dir))
        {
            byte[] bytes = File.ReadAllBytes(original);
            string path = original + ".flipped";
            int footer = bytes.Length - 512;
            for (int i = 0; i < 150; i++)
            {
                // The footer, and for dynamic disks the footer copy, the header and the table.
                int position = kind == "fixed" || random.Next(4) == 0 ? footer + random.Next(512) : random.Next(2048);
                int bit = random.Next(8);
                bytes[position] ^= (byte)(1 << bit);
                File.WriteAllBytes(path, bytes);
                bool inTable = position is >= 1536 and < 2048;
                Expect expect = kind == "fixed" ? Expect.Reject : Expect.Either;
                Check(path, model, expect, $"{kind} bit {bit} of byte {position}", intactIfOpened: !inTable);
                bytes[position] ^= (byte)(1 << bit);
            }
        }
    }

    [Fact]
    public void HostileButCheckedSizes_AreRejectedBeforeAllocating()
    {
        using var dir = new TempDirectory();
        (_, string original, byte[] model) = Samples(dir).Single(s => s.Kind == "dynamic");
        string path = original + ".hostile";

        // The largest legal size with a table that would need 4 MiB, in a file of a few KiB.
        File.Copy(original, path, overwrite: true);
        PatchFooter(path, f => WriteField(f, VhdFooter.CurrentSizeOffset, 8, 2040UL << 30));
        PatchHeader(path, h =>
        {
            WriteField(h, VhdDynamicHeader.MaxTableEntriesOffset, 4, 2040U << 9);
            WriteField(h, VhdDynamicHeader.BlockSizeOffset, 4, 2 * MiB);
        });
        Check(path, model, Expect.Reject, "2040 GiB");

        // The smallest block size on the largest disk: more blocks than this library maps.
        File.Copy(original, path, overwrite: true);
        PatchFooter(path, f => WriteField(f, VhdFooter.CurrentSizeOffset, 8, 2040UL << 30));
        PatchHeader(path, h =>
        {
            WriteField(h, VhdDynamicHeader.MaxTableEntriesOffset, 4, uint.MaxValue);
            WriteField(h, VhdDynamicHeader.BlockSizeOffset, 4, 4096);
        });
        InvalidDiskFormatException ex = Check(path, model, Expect.Reject, "4 KiB blocks on 2040 GiB")!;
        Assert.Equal("VHD dynamic header.BlockSize", ex.Field);
    }

    [Fact]
    public void DamagedImages_ThroughTheFactory_AreTypedErrors()
    {
        using var dir = new TempDirectory();
        (_, string path, _) = Samples(dir).Single(s => s.Kind == "dynamic");
        PatchHeader(path, h => WriteField(h, VhdDynamicHeader.BlockSizeOffset, 4, 3));
        var ex = Assert.Throws<InvalidDiskFormatException>(() => VirtualDisk.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(512 + VhdDynamicHeader.BlockSizeOffset, ex.Offset);
        Assert.Equal("VHD dynamic header.BlockSize", ex.Field);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Opens the file as a VHD and checks the outcome against <paramref name="expect"/>. Any exception other than
    /// <see cref="InvalidDiskFormatException"/> escapes and fails the test.
    /// </summary>
    private static InvalidDiskFormatException? Check(string path, byte[] model, Expect expect, string what, bool intactIfOpened = false)
    {
        long fileLength = new FileInfo(path).Length;
        long before = GC.GetAllocatedBytesForCurrentThread();
        VhdDisk disk;
        try
        {
            disk = OpenAsVhd(path);
        }
        catch (InvalidDiskFormatException ex)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(expect != Expect.Intact, $"{what}: rejected: {ex.Message}");
            Assert.True(allocated < AllocationBudget, $"{what}: {allocated} bytes allocated before rejecting");
            Assert.Equal(Path.GetFullPath(path), ex.FilePath);
            Assert.StartsWith("VHD", ex.Field, StringComparison.Ordinal);
            Assert.InRange(ex.Offset, 0, Math.Max(fileLength, 0));
            return ex;
        }

        using (disk)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < AllocationBudget + (disk.Layout.Bat.Length * 4L), $"{what}: {allocated} bytes allocated to open");
            Assert.True(expect != Expect.Reject, $"{what}: opened a file that must be rejected");
            byte[] content = ReadAll(disk);
            _ = disk.GetAllocatedExtents(0, disk.VirtualSize).ToList();
            if (expect == Expect.Intact || intactIfOpened)
            {
                Assert.True(model.AsSpan().SequenceEqual(content), $"{what}: opened but reads different data");
            }
        }

        return null;
    }

    /// <summary>Small images of each kind with data in some blocks, built fresh in <paramref name="dir"/>.</summary>
    private static List<(string Kind, string Path, byte[] Model)> Samples(TempDirectory dir)
    {
        var samples = new List<(string, string, byte[])>();
        var random = new Random(11);

        string fixedPath = dir.File("fixed.vhd");
        byte[] fixedModel = new byte[16 * KiB];
        using (VirtualDisk disk = VirtualDisk.Create(fixedPath, Options(DiskType.Fixed, fixedModel.Length)))
        {
            RandomWrites(disk, fixedModel, random, 5, 3000);
        }

        samples.Add(("fixed", fixedPath, fixedModel));

        string dynamicPath = dir.File("dynamic.vhd");
        byte[] dynamicModel = new byte[DynamicSize];
        using (VirtualDisk disk = VirtualDisk.Create(dynamicPath, Options(DiskType.Dynamic, DynamicSize, SmallBlock)))
        {
            RandomWrites(disk, dynamicModel, random, 6, 5000);
        }

        samples.Add(("dynamic", dynamicPath, dynamicModel));

        string parentPath = dir.File("parent.vhd");
        string childPath = dir.File("child.vhd");
        byte[] childModel = new byte[DynamicSize];
        using (VirtualDisk disk = VirtualDisk.Create(parentPath, Options(DiskType.Dynamic, DynamicSize, SmallBlock)))
        {
            RandomWrites(disk, childModel, random, 4, 5000);
        }

        using (VirtualDisk disk = VirtualDisk.Create(childPath, Options(DiskType.Differencing, 0, SmallBlock, parentPath)))
        {
            RandomWrites(disk, childModel, random, 4, 5000);
        }

        samples.Add(("differencing", childPath, childModel));
        return samples;
    }

    private static int FooterFieldWidth(int offset) => offset switch
    {
        VhdFooter.CookieOffset or VhdFooter.DataOffsetOffset or VhdFooter.OriginalSizeOffset or VhdFooter.CurrentSizeOffset => 8,
        _ => 4,
    };

    private static int HeaderFieldWidth(int offset) => offset switch
    {
        VhdDynamicHeader.CookieOffset or VhdDynamicHeader.DataOffsetOffset or VhdDynamicHeader.TableOffsetOffset or VhdDynamicHeader.ParentUniqueIdOffset => 8,
        VhdDynamicHeader.ParentLocatorsOffset + VhdParentLocator.PlatformDataOffsetOffset => 8,
        _ => 4,
    };

    private static void WriteField(byte[] structure, int offset, int width, ulong value)
    {
        if (width == 8)
        {
            BinaryPrimitives.WriteUInt64BigEndian(structure.AsSpan(offset), value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(structure.AsSpan(offset), (uint)value);
        }
    }
}
