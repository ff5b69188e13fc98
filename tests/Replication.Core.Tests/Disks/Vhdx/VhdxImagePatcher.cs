using System.Buffers.Binary;
using Replication.Core.Disks.Vhdx;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>
/// Edits an image held in memory: fields of headers, region tables, metadata, BAT and log, with or without the
/// structure's checksum recomputed (so either field validation or the checksum has to catch the damage). Knows the
/// layout of images this library creates: log at 1 MiB, metadata at 2 MiB, BAT at 3 MiB.
/// </summary>
internal sealed class VhdxImagePatcher
{
    public const int KiB = 1024;
    public const int MiB = 1 << 20;
    public const long LogOffset = MiB;
    public const long MetadataOffset = 2 * MiB;
    public const long BatOffset = 3 * MiB;
    public static readonly long[] HeaderOffsets = [64 * KiB, 128 * KiB];
    public static readonly long[] RegionTableOffsets = [192 * KiB, 256 * KiB];

    public VhdxImagePatcher(byte[] image)
    {
        Bytes = (byte[])image.Clone();
    }

    public byte[] Bytes { get; private set; }

    public Span<byte> At(long offset, int length) => Bytes.AsSpan((int)offset, length);

    public VhdxImagePatcher U16(long offset, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(At(offset, 2), value);
        return this;
    }

    public VhdxImagePatcher U32(long offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(At(offset, 4), value);
        return this;
    }

    public VhdxImagePatcher U64(long offset, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(At(offset, 8), value);
        return this;
    }

    public VhdxImagePatcher Guid(long offset, Guid value)
    {
        value.TryWriteBytes(At(offset, 16));
        return this;
    }

    public VhdxImagePatcher Truncate(int length)
    {
        Bytes = Bytes[..length];
        return this;
    }

    /// <summary>Reads header <paramref name="slot"/> (0 or 1), ignoring its checksum.</summary>
    public VhdxHeader Header(int slot)
    {
        byte[] copy = At(HeaderOffsets[slot], 4096).ToArray();
        VhdxChecksum.Seal(copy, VhdxHeader.ChecksumOffset);
        Assert.True(VhdxHeader.TryRead(copy, out VhdxHeader header, out _));
        return header;
    }

    /// <summary>Rewrites both headers through <paramref name="change"/>, each with a correct checksum.</summary>
    public VhdxImagePatcher Headers(Func<VhdxHeader, VhdxHeader> change)
    {
        for (int slot = 0; slot < 2; slot++)
        {
            change(Header(slot)).WriteTo(At(HeaderOffsets[slot], 4096));
        }

        return this;
    }

    /// <summary>Patches a field of both headers at <paramref name="fieldOffset"/>; the checksum is recomputed only when <paramref name="reseal"/>.</summary>
    public VhdxImagePatcher HeaderBytes(int fieldOffset, Action<Span<byte>> patch, bool reseal, int slots = 2)
    {
        for (int slot = 0; slot < slots; slot++)
        {
            Span<byte> header = At(HeaderOffsets[slot], 4096);
            patch(header[fieldOffset..]);
            if (reseal)
            {
                VhdxChecksum.Seal(header, VhdxHeader.ChecksumOffset);
            }
        }

        return this;
    }

    /// <summary>Patches region table copies (1, or both); the checksum is recomputed only when <paramref name="reseal"/>.</summary>
    public VhdxImagePatcher RegionTable(Action<Span<byte>> patch, bool reseal, int copies = 1)
    {
        for (int copy = 0; copy < copies; copy++)
        {
            Span<byte> table = At(RegionTableOffsets[copy], 64 * KiB);
            patch(table);
            if (reseal)
            {
                VhdxChecksum.Seal(table, VhdxRegionTable.ChecksumOffset);
            }
        }

        return this;
    }

    /// <summary>Offset of field <paramref name="field"/> of region table entry <paramref name="index"/>, relative to the table.</summary>
    public static int RegionEntry(int index, int field) => VhdxRegionTable.EntriesOffset + (index * VhdxRegionTableEntry.Size) + field;

    /// <summary>File offset of field <paramref name="field"/> of metadata table entry <paramref name="index"/>.</summary>
    public static long MetadataEntry(int index, int field) => MetadataOffset + VhdxMetadataTable.EntriesOffset + (index * VhdxMetadataTableEntry.Size) + field;

    /// <summary>File offset of metadata item <paramref name="index"/> (by table entry).</summary>
    public long MetadataItem(int index) => MetadataOffset + BinaryPrimitives.ReadUInt32LittleEndian(At(MetadataEntry(index, VhdxMetadataTableEntry.OffsetOffset), 4));

    /// <summary>File offset of BAT entry <paramref name="index"/>.</summary>
    public static long BatEntry(long index) => BatOffset + (index * 8);

    public ulong ReadU64(long offset) => BinaryPrimitives.ReadUInt64LittleEndian(At(offset, 8));

    public uint ReadU32(long offset) => BinaryPrimitives.ReadUInt32LittleEndian(At(offset, 4));
}
