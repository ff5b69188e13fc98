using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// A 64 KiB region table ([MS-VHDX] 2.2.3): signature "regi", a CRC-32C over the whole 64 KiB, and up to 2,047
/// entries locating the BAT, the metadata region and any future regions.
/// </summary>
internal readonly struct VhdxRegionTable
{
    /// <summary>"regi" read as a little-endian 32-bit integer.</summary>
    public const uint ExpectedSignature = 0x69676572;

    /// <summary>Offset of the checksum field.</summary>
    public const int ChecksumOffset = 4;

    /// <summary>Offset of the entry count field.</summary>
    public const int EntryCountOffset = 8;

    /// <summary>Offset of the first entry.</summary>
    public const int EntriesOffset = 16;

    /// <summary>The most entries a table may hold.</summary>
    public const int MaxEntries = 2047;

    private readonly VhdxRegionTableEntry[]? _entries;

    public VhdxRegionTable(VhdxRegionTableEntry[] entries)
    {
        _entries = entries;
    }

    /// <summary>The entries, in table order.</summary>
    public ReadOnlySpan<VhdxRegionTableEntry> Entries => _entries;

    /// <summary>
    /// Reads a table. Returns false, naming the failing field, when the signature, the checksum or the entry count
    /// is wrong; the entry count is checked before it sizes anything.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdxRegionTable table, out string failedField)
    {
        table = default;
        if (source.Length < VhdxLayout.RegionTableSize || BinaryPrimitives.ReadUInt32LittleEndian(source) != ExpectedSignature)
        {
            failedField = "Signature";
            return false;
        }

        if (!VhdxChecksum.IsValid(source[..VhdxLayout.RegionTableSize], ChecksumOffset))
        {
            failedField = "Checksum";
            return false;
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(source[EntryCountOffset..]);
        if (count > MaxEntries)
        {
            failedField = "EntryCount";
            return false;
        }

        var entries = new VhdxRegionTableEntry[count];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = VhdxRegionTableEntry.Read(source[(EntriesOffset + (i * VhdxRegionTableEntry.Size))..]);
        }

        failedField = string.Empty;
        table = new VhdxRegionTable(entries);
        return true;
    }

    /// <summary>Writes the whole 64 KiB table with its checksum.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> d = destination[..VhdxLayout.RegionTableSize];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, ExpectedSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(d[EntryCountOffset..], (uint)Entries.Length);
        for (int i = 0; i < Entries.Length; i++)
        {
            Entries[i].WriteTo(d[(EntriesOffset + (i * VhdxRegionTableEntry.Size))..]);
        }

        VhdxChecksum.Seal(d, ChecksumOffset);
    }
}
