using System.Buffers.Binary;
using System.IO.Hashing;
using FsCheck;
using FsCheck.Xunit;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Diff;

/// <summary>
/// Corrupt, truncated, hostile or mismatched manifests are rejected with <see cref="InvalidManifestException"/> naming
/// the file, the offset and the field; never trusted, never a crash, never an allocation sized by an unchecked count.
/// </summary>
public sealed class ManifestValidationTests : IDisposable
{
    private const int Coarse = 64 * 1024;
    private const int Fine = 4096;
    private const long Size = (200L * 1024) + 1536;

    private readonly TempDirectory _dir = new();
    private readonly byte[] _valid;

    public ManifestValidationTests()
    {
        byte[] content = new byte[Size];
        new Random(8).NextBytes(content.AsSpan(0, 150_000));
        string disk = SyncDisks.Create(_dir, "disk", DiskFormat.Raw, content);
        using VirtualDisk d = VirtualDisk.Open(disk, DiskOpenOptions.ReadOnlyAccess);
        new ManifestBuilder().BuildAsync(d, _dir.File("valid.manifest"), new ManifestOptions { CoarseBlockSize = Coarse, FineBlockSize = Fine }).GetAwaiter().GetResult().Dispose();
        _valid = File.ReadAllBytes(_dir.File("valid.manifest"));
    }

    private static long CoarseCount => (Size + Coarse - 1) / Coarse;

    private static long FineTableOffset => ManifestHeader.Size + (CoarseCount * ManifestBlockEntry.Size);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_valid_manifest_opens()
    {
        using BlockManifest manifest = BlockManifest.Open(_dir.File("valid.manifest"));
        Assert.Equal(Size, manifest.VirtualSize);
        Assert.Equal(_valid.Length, manifest.FileLength);
    }

    public static TheoryData<string, int, long, int, string> HeaderFields() => new()
    {
        // name, offset, value, width in bytes, expected field
        { "version 1 (64-bit fine hashes)", ManifestHeader.VersionOffset, 1, 2, "manifest header.Version" },
        { "version 4", ManifestHeader.VersionOffset, 4, 2, "manifest header.Version" },
        { "version 0", ManifestHeader.VersionOffset, 0, 2, "manifest header.Version" },
        { "header size", ManifestHeader.HeaderSizeOffset, 64, 2, "manifest header.HeaderSize" },
        { "unknown flag", ManifestHeader.FlagsOffset, 0x80, 4, "manifest header.Flags" },
        { "partial flag", ManifestHeader.FlagsOffset, 1, 4, "manifest header.Flags" },
        { "reserved", ManifestHeader.ReservedOffset, 1, 1, "manifest header.Reserved" },
        { "size 0", ManifestHeader.VirtualSizeOffset, 0, 8, "manifest header.VirtualSize" },
        { "size negative", ManifestHeader.VirtualSizeOffset, -512, 8, "manifest header.VirtualSize" },
        { "size not sectors", ManifestHeader.VirtualSizeOffset, Size + 1, 8, "manifest header.VirtualSize" },
        { "size over 1 PiB", ManifestHeader.VirtualSizeOffset, 1L << 51, 8, "manifest header.VirtualSize" },
        { "other size", ManifestHeader.VirtualSizeOffset, Size + Coarse, 8, "manifest header.CoarseBlockCount" },
        { "block size not a power of two", ManifestHeader.CoarseBlockSizeOffset, 3 * 4096, 4, "manifest header.CoarseBlockSize" },
        { "block size below 512", ManifestHeader.CoarseBlockSizeOffset, 256, 4, "manifest header.CoarseBlockSize" },
        { "block size over 64 MiB", ManifestHeader.CoarseBlockSizeOffset, 128 << 20, 4, "manifest header.CoarseBlockSize" },
        { "block size negative", ManifestHeader.CoarseBlockSizeOffset, int.MinValue, 4, "manifest header.CoarseBlockSize" },
        { "other block size", ManifestHeader.CoarseBlockSizeOffset, 128 * 1024, 4, "manifest header.CoarseBlockCount" },
        { "fine size not a power of two", ManifestHeader.FineBlockSizeOffset, 1000, 4, "manifest header.FineBlockSize" },
        { "fine size above the block size", ManifestHeader.FineBlockSizeOffset, 2 * Coarse, 4, "manifest header.FineBlockSize" },
        { "other fine size", ManifestHeader.FineBlockSizeOffset, 512, 4, "manifest header.FineBlockCount" },
        { "block count", ManifestHeader.CoarseBlockCountOffset, CoarseCount + 1, 8, "manifest header.CoarseBlockCount" },
        { "huge block count", ManifestHeader.CoarseBlockCountOffset, long.MaxValue, 8, "manifest header.CoarseBlockCount" },
        { "fine count", ManifestHeader.FineBlockCountOffset, 3, 8, "manifest header.FineBlockCount" },
        { "table checksum", ManifestHeader.TableChecksumOffset, 12345, 8, "manifest header.TableChecksum" },
    };

    [Theory]
    [MemberData(nameof(HeaderFields))]
    public void Every_header_field_is_validated_even_under_a_valid_checksum(string name, int offset, long value, int width, string field)
    {
        byte[] bytes = (byte[])_valid.Clone();
        Span<byte> at = bytes.AsSpan(offset, width);
        switch (width)
        {
            case 1: at[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(at, (ushort)value); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(at, (int)value); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(at, value); break;
        }

        FixHeaderChecksum(bytes);
        InvalidManifestException ex = Rejected(bytes, name);
        Assert.Equal(field, ex.Field);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disk_of_a_petabyte_in_512_byte_blocks_is_refused_before_anything_is_allocated()
    {
        byte[] bytes = (byte[])_valid.Clone();
        const long Huge = 1L << 50;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.VirtualSizeOffset), Huge);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(ManifestHeader.CoarseBlockSizeOffset), 512);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(ManifestHeader.FineBlockSizeOffset), 512);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.CoarseBlockCountOffset), Huge / 512);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.FineBlockCountOffset), Huge / 512);
        FixHeaderChecksum(bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        InvalidManifestException ex = Rejected(bytes, "petabyte");
        Assert.Equal("manifest header.CoarseBlockCount", ex.Field);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void A_header_consistent_with_itself_but_not_with_the_file_is_rejected()
    {
        byte[] bytes = (byte[])_valid.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.VirtualSizeOffset), Size + Coarse);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.CoarseBlockCountOffset), CoarseCount + 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(ManifestHeader.FineBlockCountOffset), (Size + Coarse + Fine - 1) / Fine);
        FixHeaderChecksum(bytes);
        InvalidManifestException ex = Rejected(bytes, "a bigger disk");
        Assert.Equal("manifest file length", ex.Field);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_magic_is_not_a_manifest()
    {
        byte[] bytes = (byte[])_valid.Clone();
        bytes[0] = (byte)'X';
        InvalidManifestException ex = Rejected(bytes, "magic");
        Assert.Equal("manifest header.Magic", ex.Field);
        Assert.Equal(0, ex.Offset);
    }

    [Fact]
    public void Every_bit_of_the_header_is_covered()
    {
        for (int bit = 0; bit < ManifestHeader.Size * 8; bit++)
        {
            byte[] bytes = (byte[])_valid.Clone();
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            InvalidManifestException ex = Rejected(bytes, $"header bit {bit}");
            Assert.StartsWith("manifest header", ex.Field, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_bit_of_a_block_entry_is_covered()
    {
        const int Entry = 2;
        long start = ManifestHeader.Size + (Entry * ManifestBlockEntry.Size);
        for (int bit = 0; bit < ManifestBlockEntry.Size * 8; bit++)
        {
            byte[] bytes = (byte[])_valid.Clone();
            bytes[start + (bit / 8)] ^= (byte)(1 << (bit % 8));
            InvalidManifestException ex = Rejected(bytes, $"entry bit {bit}");
            Assert.Equal($"manifest block table[{Entry}].Checksum", ex.Field);
            Assert.Equal(start + ManifestBlockEntry.ChecksumOffset, ex.Offset);
        }
    }

    [Fact]
    public void Entries_moved_to_other_slots_are_caught_even_with_a_valid_table_checksum()
    {
        byte[] bytes = (byte[])_valid.Clone();
        Span<byte> table = bytes.AsSpan(ManifestHeader.Size, (int)(CoarseCount * ManifestBlockEntry.Size));
        byte[] first = table[..ManifestBlockEntry.Size].ToArray();
        table.Slice(ManifestBlockEntry.Size, ManifestBlockEntry.Size).CopyTo(table);
        first.CopyTo(table[ManifestBlockEntry.Size..]);
        FixTableChecksum(bytes);
        Assert.Equal("manifest block table[0].Checksum", Rejected(bytes, "swapped").Field);
    }

    [Fact]
    public void Entries_that_disagree_with_themselves_are_caught()
    {
        byte[] bytes = (byte[])_valid.Clone();
        int entry = ManifestHeader.Size + ManifestBlockEntry.Size;
        new ManifestBlockEntry(UInt128.Zero, 0, 0).WriteTo(bytes.AsSpan(entry), 1);
        FixTableChecksum(bytes);
        Assert.Equal("manifest block table[1].Hash", Rejected(bytes, "hash 0 without the zero flag").Field);

        bytes = (byte[])_valid.Clone();
        ManifestBlockEntry.Unknown.WriteTo(bytes.AsSpan(entry), 1);
        FixTableChecksum(bytes);
        InvalidManifestException unknown = Rejected(bytes, "unknown in a complete manifest");
        Assert.Equal("manifest block table[1].Flags", unknown.Field);
        Assert.Equal(entry + ManifestBlockEntry.FlagsOffset, unknown.Offset);
    }

    [Fact]
    public void A_flipped_fine_hash_is_caught_by_its_block_entry()
    {
        byte[] bytes = (byte[])_valid.Clone();
        long fineHashOfBlock1 = FineTableOffset + ((Coarse / Fine) * ManifestHeader.FineHashSize) + 40;
        bytes[fineHashOfBlock1] ^= 0x10;
        InvalidManifestException ex = Rejected(bytes, "fine hash");
        Assert.Equal("manifest fine hashes of block 1", ex.Field);
        Assert.Equal(FineTableOffset + ((Coarse / Fine) * ManifestHeader.FineHashSize), ex.Offset);
    }

    [Property(MaxTest = 300)]
    public void Any_flipped_bit_anywhere_is_rejected(NonNegativeInt position, byte bit)
    {
        byte[] bytes = (byte[])_valid.Clone();
        int at = position.Get % bytes.Length;
        bytes[at] ^= (byte)(1 << (bit % 8));
        InvalidManifestException ex = Rejected(bytes, $"bit {bit % 8} of byte {at}");
        Assert.NotNull(ex.FilePath);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(128 + 33)]
    [InlineData(-9)]
    [InlineData(-8)]
    [InlineData(-1)]
    public void Truncated_manifests_are_rejected(int length)
    {
        byte[] bytes = _valid[..(length >= 0 ? length : _valid.Length + length)];
        InvalidManifestException ex = Rejected(bytes, $"{bytes.Length} bytes");
        Assert.True(ex.Field is "manifest header" or "manifest file length", ex.Field);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        InvalidManifestException ex = Rejected([.. _valid, 0, 0, 0, 0, 0, 0, 0, 0], "8 extra bytes");
        Assert.Equal("manifest file length", ex.Field);
    }

    [Fact]
    public void A_missing_manifest_is_not_found()
    {
        ReplicationException ex = Assert.Throws<ReplicationException>(() => BlockManifest.Open(_dir.File("missing.manifest")));
        Assert.Equal(ReplicationErrorCode.NotFound, ex.Code);
    }

    [Theory]
    [InlineData(128 * 1024, 4096, Size, "manifest header.CoarseBlockSize")]
    [InlineData(Coarse, 512, Size, "manifest header.FineBlockSize")]
    [InlineData(Coarse, 4096, Size + 512, "manifest header.VirtualSize")]
    public async Task Manifests_of_another_geometry_are_refused_by_the_diff(int coarse, int fine, long size, string field)
    {
        byte[] content = new byte[size];
        new Random(1).NextBytes(content);
        string disk = SyncDisks.Create(_dir, "other", DiskFormat.Raw, content);
        using VirtualDisk d = VirtualDisk.Open(disk, DiskOpenOptions.ReadOnlyAccess);
        using ManifestBuildResult other = await new ManifestBuilder().BuildAsync(d, _dir.File("other.manifest"), new ManifestOptions { CoarseBlockSize = coarse, FineBlockSize = fine });
        using BlockManifest valid = BlockManifest.Open(_dir.File("valid.manifest"));
        InvalidManifestException ex = Assert.Throws<InvalidManifestException>(() => BlockDiff.Compare(valid, other.Manifest));
        Assert.Equal(field, ex.Field);
        Assert.Equal(other.Manifest.FilePath, ex.FilePath);
        Assert.Equal(ReplicationErrorCode.InvalidFormat, ex.Code);
        Assert.False(ex.IsRecoverable);
    }

    private InvalidManifestException Rejected(byte[] bytes, string what)
    {
        string path = _dir.File("bad.manifest");
        File.WriteAllBytes(path, bytes);
        InvalidManifestException? ex = null;
        try
        {
            BlockManifest.Open(path).Dispose();
        }
        catch (InvalidManifestException caught)
        {
            ex = caught;
        }

        Assert.True(ex is not null, $"{what}: the manifest was accepted");
        Assert.Equal(path, ex.FilePath);
        Assert.InRange(ex.Offset, 0, Math.Max(bytes.Length, _valid.Length));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        return ex;
    }

    private static void FixHeaderChecksum(byte[] bytes) =>
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(ManifestHeader.ChecksumOffset), XxHash3.HashToUInt64(bytes.AsSpan(0, ManifestHeader.ChecksumOffset)));

    private static void FixTableChecksum(byte[] bytes)
    {
        UInt128 checksum = XxHash128.HashToUInt128(bytes.AsSpan(ManifestHeader.Size, (int)(CoarseCount * ManifestBlockEntry.Size)));
        BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(ManifestHeader.TableChecksumOffset), checksum);
        FixHeaderChecksum(bytes);
    }
}
