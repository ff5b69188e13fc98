using System.Buffers.Binary;
using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>
/// Damaged and hostile images: every one is refused with an <see cref="InvalidDiskFormatException"/> that names the
/// file, an offset and the field, never another exception, a hang or a large allocation. Known parser failures of
/// other implementations come first: QEMU CVE-2014-0148 (unchecked block and sector sizes) and DiscUtils' log entry
/// length arithmetic and zero-length read loop.
/// </summary>
public sealed class VhdxBadInputTests : IClassFixture<VhdxBadInputFixture>
{
    private const int MiB = VhdxImagePatcher.MiB;
    private const int KiB = VhdxImagePatcher.KiB;
    private const long AllocationLimit = 64L * MiB;

    private readonly VhdxBadInputFixture _images;

    public VhdxBadInputTests(VhdxBadInputFixture images)
    {
        _images = images;
    }

    [Fact]
    public void Baselines_are_valid()
    {
        AssertOpens(_images.Dynamic, disk => DiskAssert.ContentEquals(_images.DynamicModel, disk));
        AssertOpens(_images.Large, disk => Assert.Equal(5L << 30, disk.VirtualSize));
        AssertOpens(_images.Child, disk => DiskAssert.ContentEquals(_images.ChildModel, disk));
    }

    [Fact]
    public void Crafted_log_is_replayed_by_us_and_by_qemu()
    {
        AssertOpens(_images.Dirty, disk => DiskAssert.ContentEquals(_images.DirtyModel, disk), readOnly: true);
        string path = WriteCase(_images.Dirty);
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            Assert.Equal(1, disk.LogReplay!.EntryCount);
            DiskAssert.ContentEquals(_images.DirtyModel, disk);
        }

        Assert.True(new FileInfo(path).Length >= 7 * MiB, "replay extends the file to cover its descriptors");
        VhdxTestSupport.QemuCheck(path);

        string forQemu = WriteCase(_images.Dirty);
        ExternalTool.RunChecked("qemu-img", "check", "-r", "all", "-f", "vhdx", forQemu);
        VhdxTestSupport.AssertBytesEqual(_images.DirtyModel, VhdxTestSupport.QemuToRaw(forQemu, _images.Directory), "qemu's replay of the crafted log");
    }

    [Fact]
    public void Truncation_at_any_length_is_rejected()
    {
        foreach (byte[] image in new[] { _images.Dynamic, _images.Child, _images.Dirty })
        {
            var cuts = new SortedSet<int> { 8, 9, 512, 4096, 65535 };
            for (int k = 64 * KiB; k < image.Length; k += 64 * KiB)
            {
                cuts.Add(k - 1);
                cuts.Add(k + 7);
            }

            string path = WriteCase(image);
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                // Longest first, so each cut only shortens the same file.
                foreach (int cut in cuts.Reverse().Where(c => c < image.Length))
                {
                    stream.SetLength(cut);
                    stream.Flush();
                    AssertRejectedFile(path, string.Empty, readOnly: true, $"truncated to {cut} bytes");
                }
            }
        }
    }

    public static TheoryData<string, string> HeaderCases() => new()
    {
        { "Version 2", ".Version" },
        { "LogVersion 1 with a log", ".LogVersion" },
        { "LogLength not a multiple of 1 MiB", ".LogLength" },
        { "LogOffset not 1 MiB aligned", ".LogOffset" },
        { "LogOffset huge", ".LogOffset" },
        { "LogOffset inside the header section", ".LogOffset" },
        { "log past the end of the file", ".LogLength" },
        { "LogGuid set, log length 0", ".LogLength" },
        { "LogGuid set, log longer than replay supports", ".LogLength" },
        { "LogGuid set, no valid entry", "VHDX log" },
        { "same sequence number, different content", "VHDX header 2.SequenceNumber" },
        { "both signatures bad", "VHDX header 1.Signature" },
        { "both checksums bad", "VHDX header 1.Checksum" },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void Header_damage_is_rejected(string damage, string field)
    {
        var p = new VhdxImagePatcher(_images.Dynamic);
        _ = damage switch
        {
            "Version 2" => p.Headers(h => h with { Version = 2 }),
            "LogVersion 1 with a log" => p.Headers(h => h with { LogVersion = 1, LogGuid = Guid.NewGuid() }),
            "LogLength not a multiple of 1 MiB" => p.Headers(h => h with { LogLength = MiB + 4096 }),
            "LogOffset not 1 MiB aligned" => p.Headers(h => h with { LogOffset = MiB + 4096 }),
            "LogOffset huge" => p.Headers(h => h with { LogOffset = 1UL << 62 }),
            "LogOffset inside the header section" => p.Headers(h => h with { LogOffset = 0 }),
            "log past the end of the file" => p.Headers(h => h with { LogOffset = 5 * MiB, LogLength = 64 * MiB }),
            "LogGuid set, log length 0" => p.Headers(h => h with { LogGuid = Guid.NewGuid(), LogLength = 0 }),
            "LogGuid set, log longer than replay supports" => LongLog(p),
            "LogGuid set, no valid entry" => p.Headers(h => h with { LogGuid = Guid.NewGuid() }),
            "same sequence number, different content" => SameSequence(p),
            "both signatures bad" => p.HeaderBytes(0, b => b[0] ^= 0x20, reseal: false),
            "both checksums bad" => p.HeaderBytes(2000, b => b[0] ^= 1, reseal: false),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        AssertRejected(p.Bytes, field);
    }

    [Fact]
    public void One_damaged_header_falls_back_to_the_other()
    {
        // Damage the current header only: the older one is still valid, as the two-slot scheme intends.
        var p = new VhdxImagePatcher(_images.Dynamic);
        int current = p.Header(0).SequenceNumber > p.Header(1).SequenceNumber ? 0 : 1;
        p.At(VhdxImagePatcher.HeaderOffsets[current] + 100, 1)[0] ^= 0xFF;
        AssertOpens(p.Bytes, disk => DiskAssert.ContentEquals(_images.DynamicModel, disk));
    }

    public static TheoryData<string, string> RegionCases() => new()
    {
        { "EntryCount 3000", "VHDX region table 1.EntryCount" },
        { "BAT offset unaligned", "Entry[0].FileOffset" },
        { "BAT offset 0", "Entry[0].FileOffset" },
        { "BAT offset huge", "Entry[0].FileOffset" },
        { "BAT past the end of the file", "Entry[0].Length" },
        { "BAT length 0", "Entry[0].Length" },
        { "BAT length 4 KiB", "Entry[0].Length" },
        { "BAT length huge", "Entry[0].Length" },
        { "duplicate region", "Entry[1].Guid" },
        { "unknown required region", "Entry[1].Required" },
        { "metadata region missing", "VHDX region table 1.EntryCount" },
        { "regions overlap", "Entry[1].FileOffset" },
        { "region overlaps the log", "Entry[0].FileOffset" },
        { "both copies bad checksum", "VHDX region table 1.Checksum" },
        { "both copies bad signature", "VHDX region table 1.Signature" },
    };

    [Theory]
    [MemberData(nameof(RegionCases))]
    public void Region_table_damage_is_rejected(string damage, string field)
    {
        int bat = VhdxRegionTableEntry.FileOffsetOffset, length = VhdxRegionTableEntry.LengthOffset;
        var p = new VhdxImagePatcher(_images.Dynamic);
        Action<Span<byte>> patch = damage switch
        {
            "EntryCount 3000" => t => BinaryPrimitives.WriteUInt32LittleEndian(t[VhdxRegionTable.EntryCountOffset..], 3000),
            "BAT offset unaligned" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, bat)..], (3 * MiB) + 1),
            "BAT offset 0" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, bat)..], 0),
            "BAT offset huge" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, bat)..], 1UL << 60),
            "BAT past the end of the file" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, bat)..], 100 * MiB),
            "BAT length 0" => t => BinaryPrimitives.WriteUInt32LittleEndian(t[VhdxImagePatcher.RegionEntry(0, length)..], 0),
            "BAT length 4 KiB" => t => BinaryPrimitives.WriteUInt32LittleEndian(t[VhdxImagePatcher.RegionEntry(0, length)..], 4096),
            "BAT length huge" => t => BinaryPrimitives.WriteUInt32LittleEndian(t[VhdxImagePatcher.RegionEntry(0, length)..], 0xFFF00000),
            "duplicate region" => t => VhdxLayout.BatRegion.TryWriteBytes(t[VhdxImagePatcher.RegionEntry(1, 0)..]),
            "unknown required region" => t => Guid.NewGuid().TryWriteBytes(t[VhdxImagePatcher.RegionEntry(1, 0)..]),
            "metadata region missing" => t =>
            {
                Guid.NewGuid().TryWriteBytes(t[VhdxImagePatcher.RegionEntry(1, 0)..]);
                BinaryPrimitives.WriteUInt32LittleEndian(t[VhdxImagePatcher.RegionEntry(1, VhdxRegionTableEntry.RequiredOffset)..], 0);
            },
            "regions overlap" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(1, bat)..], 3 * MiB),
            "region overlaps the log" => t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, bat)..], MiB),
            "both copies bad checksum" => t => t[30_000] ^= 4,
            "both copies bad signature" => t => t[1] ^= 4,
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        bool bothCopies = damage.StartsWith("both", StringComparison.Ordinal);
        p.RegionTable(patch, reseal: !bothCopies, copies: bothCopies ? 2 : 1);
        AssertRejected(p.Bytes, field);
    }

    [Fact]
    public void One_damaged_region_table_falls_back_to_the_other()
    {
        var p = new VhdxImagePatcher(_images.Dynamic);
        p.RegionTable(t => BinaryPrimitives.WriteUInt64LittleEndian(t[VhdxImagePatcher.RegionEntry(0, VhdxRegionTableEntry.FileOffsetOffset)..], 1UL << 60), reseal: false);
        AssertOpens(p.Bytes, disk => DiskAssert.ContentEquals(_images.DynamicModel, disk));
    }

    public static TheoryData<string, string> MetadataCases() => new()
    {
        { "signature", "VHDX metadata table.Signature" },
        { "EntryCount 2048", "VHDX metadata table.EntryCount" },
        { "item inside the table", "Entry[0].Offset" },
        { "item longer than 1 MiB", "Entry[0].Offset" },
        { "item past the region", "Entry[0].Offset" },
        { "empty item with an offset", "Entry[0].Offset" },
        { "items overlap", ".Offset" },
        { "duplicate item", "Entry[1].ItemId" },
        { "unknown required item", "Entry[1].IsRequired" },
        { "required item missing", "VHDX metadata table" },
        { "file parameters too short", "file parameters.Length" },
        { "block size 0", "VHDX file parameters.BlockSize" },
        { "block size 3", "VHDX file parameters.BlockSize" },
        { "block size 512 KiB", "VHDX file parameters.BlockSize" },
        { "block size 3 MiB", "VHDX file parameters.BlockSize" },
        { "block size 512 MiB", "VHDX file parameters.BlockSize" },
        { "block size 4 GiB - 1", "VHDX file parameters.BlockSize" },
        { "logical sector size 3", "VHDX logical sector size.LogicalSectorSize" },
        { "logical sector size 1024", "VHDX logical sector size.LogicalSectorSize" },
        { "physical sector size 3", "VHDX physical sector size.PhysicalSectorSize" },
        { "virtual size 0", "VHDX virtual disk size.VirtualDiskSize" },
        { "virtual size not a whole sector", "VHDX virtual disk size.VirtualDiskSize" },
        { "virtual size 65 TiB", "VHDX virtual disk size.VirtualDiskSize" },
        { "virtual size 2^64 - 1", "VHDX virtual disk size.VirtualDiskSize" },
        { "virtual size 64 TiB with a 1 MiB BAT", "VHDX BAT" },
        { "has parent without a locator", "VHDX file parameters.HasParent" },
        { "more than 1024 user items", ".IsUser" },
    };

    [Theory]
    [MemberData(nameof(MetadataCases))]
    public void Metadata_damage_is_rejected(string damage, string field)
    {
        var p = new VhdxImagePatcher(_images.Dynamic);
        long parameters = p.MetadataItem(0), size = p.MetadataItem(1), logical = p.MetadataItem(3), physical = p.MetadataItem(4);
        _ = damage switch
        {
            "signature" => p.U32(VhdxImagePatcher.MetadataOffset, 0x12345678),
            "EntryCount 2048" => p.U16(VhdxImagePatcher.MetadataOffset + VhdxMetadataTable.EntryCountOffset, 2048),
            "item inside the table" => p.U32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.OffsetOffset), 100),
            "item longer than 1 MiB" => p.U32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.LengthOffset), (2 * MiB) + 1),
            "item past the region" => p.U32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.OffsetOffset), MiB - 4),
            "empty item with an offset" => p.U32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.LengthOffset), 0),
            "items overlap" => p.U32(VhdxImagePatcher.MetadataEntry(1, VhdxMetadataTableEntry.OffsetOffset), p.ReadU32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.OffsetOffset)) + 4),
            "duplicate item" => p.Guid(VhdxImagePatcher.MetadataEntry(1, 0), VhdxLayout.FileParametersItem),
            "unknown required item" => p.Guid(VhdxImagePatcher.MetadataEntry(1, 0), Guid.NewGuid()),
            "required item missing" => p.Guid(VhdxImagePatcher.MetadataEntry(1, 0), Guid.NewGuid()).U32(VhdxImagePatcher.MetadataEntry(1, VhdxMetadataTableEntry.FlagsOffset), 0),
            "file parameters too short" => p.U32(VhdxImagePatcher.MetadataEntry(0, VhdxMetadataTableEntry.LengthOffset), 4),
            "block size 0" => p.U32(parameters, 0),
            "block size 3" => p.U32(parameters, 3),
            "block size 512 KiB" => p.U32(parameters, 512 * KiB),
            "block size 3 MiB" => p.U32(parameters, 3 * MiB),
            "block size 512 MiB" => p.U32(parameters, 512 * MiB),
            "block size 4 GiB - 1" => p.U32(parameters, uint.MaxValue),
            "logical sector size 3" => p.U32(logical, 3),
            "logical sector size 1024" => p.U32(logical, 1024),
            "physical sector size 3" => p.U32(physical, 3),
            "virtual size 0" => p.U64(size, 0),
            "virtual size not a whole sector" => p.U64(size, (8 * MiB) + 1000),
            "virtual size 65 TiB" => p.U64(size, 65UL << 40),
            "virtual size 2^64 - 1" => p.U64(size, ulong.MaxValue),
            "virtual size 64 TiB with a 1 MiB BAT" => p.U64(size, 64UL << 40),
            "has parent without a locator" => p.U32(parameters + 4, 2),
            "more than 1024 user items" => ManyUserItems(p),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        AssertRejected(p.Bytes, field);
    }

    public static TheoryData<string, string> BatCases() => new()
    {
        { "state 4", "VHDX BAT entry[2].State" },
        { "state 5", "VHDX BAT entry[2].State" },
        { "partially present in a dynamic disk", "VHDX BAT entry[2].State" },
        { "block past the end of the file", "VHDX BAT entry[2].FileOffset" },
        { "block partly past the end of the file", "VHDX BAT entry[5].FileOffset" },
        { "block in the header section", "VHDX BAT entry[2].FileOffset" },
        { "block offset huge", "VHDX BAT entry[2].FileOffset" },
        { "block over the log", "VHDX BAT entry[2].FileOffset" },
        { "block over the BAT", "VHDX BAT entry[2].FileOffset" },
        { "block over the metadata region", "VHDX BAT entry[2].FileOffset" },
        { "two blocks at one offset", "VHDX BAT entry[5].FileOffset" },
    };

    [Theory]
    [MemberData(nameof(BatCases))]
    public void Bat_damage_is_rejected(string damage, string field)
    {
        var p = new VhdxImagePatcher(_images.Dynamic);
        long entry2 = VhdxImagePatcher.BatEntry(2), entry5 = VhdxImagePatcher.BatEntry(5);
        ulong present = VhdxBatEntry.PayloadFullyPresent;
        _ = damage switch
        {
            "state 4" => p.U64(entry2, (p.ReadU64(entry2) & ~7UL) | 4),
            "state 5" => p.U64(entry2, (p.ReadU64(entry2) & ~7UL) | 5),
            "partially present in a dynamic disk" => p.U64(entry2, (p.ReadU64(entry2) & ~7UL) | 7),
            "block past the end of the file" => p.U64(entry2, (100UL << 20) | present),
            "block partly past the end of the file" => p.U64(entry5, ((ulong)p.Bytes.Length - (MiB / 2)) & ~0xFFFFFUL | present).Truncate(p.Bytes.Length - (MiB / 2)),
            "block in the header section" => p.U64(entry2, present),
            "block offset huge" => p.U64(entry2, ~0xFFFFFUL | present),
            "block over the log" => p.U64(entry2, (1UL << 20) | present),
            "block over the BAT" => p.U64(entry2, (3UL << 20) | present),
            "block over the metadata region" => p.U64(entry2, (2UL << 20) | present),
            "two blocks at one offset" => p.U64(entry5, p.ReadU64(entry2)),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        AssertRejected(p.Bytes, field);
    }

    [Fact]
    public void Sector_bitmap_entries_are_validated()
    {
        // Dynamic disk: a sector bitmap entry must be "not present".
        var large = new VhdxImagePatcher(_images.Large);
        large.U64(VhdxImagePatcher.BatEntry(4096), (5UL << 20) | VhdxBatEntry.BitmapPresent);
        AssertRejected(large.Bytes, "VHDX BAT entry[4096].State");

        // Differencing disk: a partially present block needs its chunk's bitmap block.
        var child = new VhdxImagePatcher(_images.Child);
        Assert.Equal(VhdxBatEntry.PayloadPartiallyPresent, (int)(child.ReadU64(VhdxImagePatcher.BatEntry(1)) & 7));
        Assert.Equal(VhdxBatEntry.BitmapPresent, (int)(child.ReadU64(VhdxImagePatcher.BatEntry(4096)) & 7));
        AssertRejected(new VhdxImagePatcher(_images.Child).U64(VhdxImagePatcher.BatEntry(4096), 0).Bytes, "VHDX BAT entry[4096].State");
        AssertRejected(new VhdxImagePatcher(_images.Child).U64(VhdxImagePatcher.BatEntry(4096), (200UL << 20) | 6).Bytes, "VHDX BAT entry[4096].FileOffset");
        AssertRejected(new VhdxImagePatcher(_images.Child).U64(VhdxImagePatcher.BatEntry(4096), (3UL << 20) | 6).Bytes, "VHDX BAT entry[4096].FileOffset");
        AssertRejected(new VhdxImagePatcher(_images.Child).U64(VhdxImagePatcher.BatEntry(4096), (3UL << 20) | 2).Bytes, "VHDX BAT entry[4096].State");
    }

    [Fact]
    public void Zero_unmapped_and_undefined_blocks_read_as_zeros_whatever_their_offset()
    {
        var p = new VhdxImagePatcher(_images.Dynamic);
        p.U64(VhdxImagePatcher.BatEntry(2), (999UL << 20) | VhdxBatEntry.PayloadZero);
        p.U64(VhdxImagePatcher.BatEntry(5), (1UL << 20) | VhdxBatEntry.PayloadUnmapped);
        p.U64(VhdxImagePatcher.BatEntry(6), (1UL << 40) | VhdxBatEntry.PayloadUndefined);
        AssertOpens(p.Bytes, disk =>
        {
            DiskAssert.ContentEquals(new byte[8 * MiB], disk);
            Assert.True(disk.IsKnownZero(0, disk.VirtualSize));
            Assert.Equal(0, disk.AllocatedBytes);
        });
    }

    public static TheoryData<string, string> LocatorCases() => new()
    {
        { "locator type", "VHDX parent locator.LocatorType" },
        { "key/value count", "VHDX parent locator.KeyValueCount" },
        { "key offset past the item", "VHDX parent locator.Entry[0].Key" },
        { "key offset 0", "VHDX parent locator.Entry[0].Key" },
        { "odd value length", "VHDX parent locator.Entry[0].Value" },
        { "value length 0", "VHDX parent locator.Entry[1].Value" },
        { "duplicate key", "VHDX parent locator.Entry[1].Key" },
        { "parent_linkage missing", "VHDX parent locator.parent_linkage" },
        { "parent_linkage not a GUID", "VHDX parent locator.parent_linkage" },
        { "item shorter than its header", "VHDX parent locator" },
        { "no path", "VHDX parent locator" },
    };

    [Theory]
    [MemberData(nameof(LocatorCases))]
    public void Parent_locator_damage_is_rejected(string damage, string field)
    {
        var p = new VhdxImagePatcher(_images.Child);
        long item = p.MetadataItem(5);
        long entry0 = item + VhdxParentLocator.HeaderSize, entry1 = entry0 + VhdxParentLocator.EntrySize;
        uint keyOffset0 = p.ReadU32(entry0), valueOffset0 = p.ReadU32(entry0 + 4);
        _ = damage switch
        {
            "locator type" => p.Guid(item, Guid.NewGuid()),
            "key/value count" => p.U16(item + 18, 5000),
            "key offset past the item" => p.U32(entry0, 100_000),
            "key offset 0" => p.U32(entry0, 0),
            "odd value length" => p.U16(entry0 + 10, 75),
            "value length 0" => p.U16(entry1 + 10, 0),
            "duplicate key" => p.U32(entry1, keyOffset0).U16(entry1 + 8, p.At(entry0 + 8, 2)[0]),
            "parent_linkage missing" => p.U16(item + keyOffset0, 'P'),
            "parent_linkage not a GUID" => p.U16(item + valueOffset0 + 2, 'z'),
            "item shorter than its header" => p.U32(VhdxImagePatcher.MetadataEntry(5, VhdxMetadataTableEntry.LengthOffset), 10),
            "no path" => p.U16(item + 18, 1),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        AssertRejected(p.Bytes, field);
    }

    public static TheoryData<string, bool> LogCases()
    {
        var data = new TheoryData<string, bool>();
        foreach (string damage in LogDamages.Keys)
        {
            // Changed data under a recomputed checksum is a valid entry: only the checksum can tell.
            if (damage != "data")
            {
                data.Add(damage, true);
            }

            data.Add(damage, false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LogCases))]
    public void Log_entry_damage_is_rejected(string damage, bool checksumRecomputed)
    {
        // With the checksum recomputed the field checks must catch the damage; without, the checksum does.
        (byte[] image, _, _) = VhdxBadInputFixture.CraftDirtyImage(_images.Dynamic, _images.DynamicModel, checksumRecomputed, LogDamages[damage]);
        AssertRejected(image, "VHDX log");
    }

    [Fact]
    public void Replay_extends_the_file_to_the_last_file_offset()
    {
        (byte[] image, byte[] model, _) = VhdxBadInputFixture.CraftDirtyImage(
            _images.Dynamic, _images.DynamicModel, reseal: true, e => BinaryPrimitives.WriteUInt64LittleEndian(e[VhdxLogEntryHeader.LastFileOffsetOffset..], 9UL * MiB));
        string path = WriteCase(image);
        using (VhdxDisk disk = VhdxTestSupport.Open(path, readOnly: true))
        {
            DiskAssert.ContentEquals(model, disk);
        }

        Assert.Equal(image.Length, new FileInfo(path).Length);
        using (VhdxDisk disk = VhdxTestSupport.Open(path))
        {
            DiskAssert.ContentEquals(model, disk);
        }

        Assert.Equal(9L * MiB, new FileInfo(path).Length);
    }

    [Fact]
    public void Log_written_when_the_file_was_longer_is_rejected()
    {
        (byte[] image, _, _) = VhdxBadInputFixture.CraftDirtyImage(
            _images.Dynamic, _images.DynamicModel, reseal: true, e => BinaryPrimitives.WriteUInt64LittleEndian(e[VhdxLogEntryHeader.FlushedFileOffsetOffset..], 64UL * MiB));
        AssertRejected(image, "VHDX log entry.FlushedFileOffset");
    }

    [Fact]
    public void Random_bit_flips_in_checksummed_structures_are_rejected()
    {
        var random = new Random(20240601);
        CheckFlips(_images.Dynamic, random, 100, "VHDX header 1.", bit =>
            [(VhdxImagePatcher.HeaderOffsets[0] + (bit / 8), bit % 8), (VhdxImagePatcher.HeaderOffsets[1] + (bit / 8), bit % 8)], 4096 * 8);
        CheckFlips(_images.Dynamic, random, 100, "VHDX region table 1.", bit =>
            [(VhdxImagePatcher.RegionTableOffsets[0] + (bit / 8), bit % 8), (VhdxImagePatcher.RegionTableOffsets[1] + (bit / 8), bit % 8)], 64 * KiB * 8);
        CheckFlips(_images.Dirty, random, 100, "VHDX log", bit =>
            [(VhdxImagePatcher.LogOffset + (bit / 8), bit % 8)], VhdxBadInputFixture.DirtyEntryLength * 8);
    }

    private static readonly Dictionary<string, Action<Span<byte>>> LogDamages = new()
    {
        ["signature"] = e => e[0] ^= 1,
        ["EntryLength 0"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], 0),
        ["EntryLength not a multiple of 4 KiB"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], (3 * 4096) + 1),
        ["EntryLength past the log"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], 2 * MiB),
        ["EntryLength 4 GiB - 4 KiB"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], 0xFFFFF000),
        ["EntryLength one sector short"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], 2 * 4096),
        ["EntryLength one sector long"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.EntryLengthOffset..], 4 * 4096),
        ["DescriptorCount 2^32 - 1"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.DescriptorCountOffset..], uint.MaxValue),
        ["DescriptorCount 200"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.DescriptorCountOffset..], 200),
        ["DescriptorCount 2"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.DescriptorCountOffset..], 2),
        ["sequence number 0"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[VhdxLogEntryHeader.SequenceNumberOffset..], 0),
        ["tail unaligned"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.TailOffset..], 100),
        ["tail past the log"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.TailOffset..], 4 * MiB),
        ["tail not in the sequence"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[VhdxLogEntryHeader.TailOffset..], 8192),
        ["LogGuid of another session"] = e => Guid.NewGuid().TryWriteBytes(e[VhdxLogEntryHeader.LogGuidOffset..]),
        ["LastFileOffset 2^60"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[VhdxLogEntryHeader.LastFileOffsetOffset..], 1UL << 60),
        ["descriptor signature"] = e => e[64] ^= 1,
        ["descriptor sequence number"] = e => e[64 + VhdxLogDescriptor.SequenceNumberOffset] ^= 1,
        ["descriptor targets a header"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(64 + VhdxLogDescriptor.FileOffsetOffset)..], 64 * KiB),
        ["descriptor targets the log"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(64 + VhdxLogDescriptor.FileOffsetOffset)..], MiB + 8192),
        ["descriptor offset unaligned"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(64 + VhdxLogDescriptor.FileOffsetOffset)..], (3 * MiB) + 512),
        ["descriptor offset 2^63"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(64 + VhdxLogDescriptor.FileOffsetOffset)..], 1UL << 63),
        ["zero length 2^62"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(96 + VhdxLogDescriptor.LeadingBytesOffset)..], 1UL << 62),
        ["zero length unaligned"] = e => BinaryPrimitives.WriteUInt64LittleEndian(e[(96 + VhdxLogDescriptor.LeadingBytesOffset)..], 1000),
        ["data descriptor turned into a zero descriptor"] = e => BinaryPrimitives.WriteUInt32LittleEndian(e[128..], VhdxLogDescriptor.ZeroSignature),
        ["data sector signature"] = e => e[4096] ^= 1,
        ["data sector sequence high"] = e => e[4096 + 4] ^= 1,
        ["data sector sequence low"] = e => e[8192 + 4092] ^= 1,
        ["data"] = e => e[8192 + 100] ^= 1,
    };

    private void CheckFlips(byte[] image, Random random, int count, string field, Func<long, (long Offset, long Bit)[]> places, long bits)
    {
        string path = WriteCase(image);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        for (int i = 0; i < count; i++)
        {
            long bit = random.NextInt64(bits);
            (long Offset, long Bit)[] flips = places(bit);
            Flip(stream, flips);
            AssertRejectedFile(path, field, readOnly: true, $"bit {bit} flipped");
            Flip(stream, flips);
        }

        AssertOpens(image, _ => { });
    }

    private static void Flip(FileStream stream, (long Offset, long Bit)[] flips)
    {
        byte[] one = new byte[1];
        foreach ((long offset, long bit) in flips)
        {
            stream.Position = offset;
            stream.ReadExactly(one);
            one[0] ^= (byte)(1 << (int)bit);
            stream.Position = offset;
            stream.Write(one);
        }

        stream.Flush();
    }

    private static VhdxImagePatcher LongLog(VhdxImagePatcher p)
    {
        // A 64 MiB log that fits in the (extended) file, but is longer than replay accepts.
        p.Headers(h => h with { LogGuid = Guid.NewGuid(), LogOffset = 8UL * MiB, LogLength = 64 * MiB });
        byte[] longer = new byte[72 * MiB];
        p.Bytes.CopyTo(longer, 0);
        return new VhdxImagePatcher(longer);
    }

    private static VhdxImagePatcher ManyUserItems(VhdxImagePatcher p)
    {
        // 1025 empty user items after the five system ones.
        int first = (int)p.ReadU32(VhdxImagePatcher.MetadataOffset + 8) >> 16;
        for (int i = first; i < first + 1025; i++)
        {
            p.Guid(VhdxImagePatcher.MetadataEntry(i, 0), Guid.NewGuid());
            p.U32(VhdxImagePatcher.MetadataEntry(i, VhdxMetadataTableEntry.FlagsOffset), VhdxMetadataTableEntry.IsUserFlag);
        }

        return p.U16(VhdxImagePatcher.MetadataOffset + VhdxMetadataTable.EntryCountOffset, (ushort)(first + 1025));
    }

    private static VhdxImagePatcher SameSequence(VhdxImagePatcher p)
    {
        VhdxHeader h1 = p.Header(0);
        (p.Header(1) with { SequenceNumber = h1.SequenceNumber, DataWriteGuid = Guid.NewGuid() }).WriteTo(p.At(VhdxImagePatcher.HeaderOffsets[1], 4096));
        return p;
    }

    private string WriteCase(byte[] image)
    {
        // Next to the parent, so a child's relative path still resolves.
        string path = _images.Directory.File($"case-{Guid.NewGuid():N}.vhdx");
        File.WriteAllBytes(path, image);
        return path;
    }

    private void AssertRejected(byte[] image, string field)
    {
        string path = WriteCase(image);
        try
        {
            AssertRejectedFile(path, field, readOnly: true, "read-only open");
            AssertRejectedFile(path, field, readOnly: false, "writable open");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertRejectedFile(string path, string field, bool readOnly, string what)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        InvalidDiskFormatException ex;
        try
        {
            using VirtualDisk disk = VirtualDisk.Open(path, readOnly ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);
            throw new Xunit.Sdk.XunitException($"{what}: expected the image to be refused for '{field}', but it opened.");
        }
        catch (InvalidDiskFormatException caught)
        {
            ex = caught;
        }
        catch (Exception other) when (other is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{what}: expected InvalidDiskFormatException for '{field}', got {other}");
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationLimit, $"{what}: refusing the image allocated {allocated} bytes");
        Assert.Equal(path, ex.FilePath);
        Assert.True(ex.Offset >= 0, $"{what}: offset {ex.Offset}");
        Assert.False(string.IsNullOrEmpty(ex.Field));
        Assert.True(ex.Field.Contains(field, StringComparison.Ordinal), $"{what}: expected field '{field}', got '{ex.Field}': {ex.Message}");
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    private void AssertOpens(byte[] image, Action<VirtualDisk> verify, bool readOnly = false)
    {
        string path = WriteCase(image);
        try
        {
            using VirtualDisk disk = VirtualDisk.Open(path, readOnly ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);
            Assert.Equal(DiskFormat.Vhdx, disk.Format);
            verify(disk);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
