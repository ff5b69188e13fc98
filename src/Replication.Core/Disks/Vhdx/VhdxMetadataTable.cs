using System.Buffers.Binary;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The 64 KiB metadata table at the start of the metadata region ([MS-VHDX] 2.6.1): signature "metadata" and up to
/// 2,047 entries. It carries no checksum: every entry is validated against the region before use.
/// </summary>
internal readonly struct VhdxMetadataTable
{
    /// <summary>"metadata" read as a little-endian 64-bit integer.</summary>
    public const ulong ExpectedSignature = 0x61746164_6174656D;

    /// <summary>Offset of the entry count field.</summary>
    public const int EntryCountOffset = 10;

    /// <summary>Offset of the first entry.</summary>
    public const int EntriesOffset = 32;

    /// <summary>The most entries a table may hold.</summary>
    public const int MaxEntries = 2047;

    private readonly VhdxMetadataTableEntry[]? _entries;

    public VhdxMetadataTable(VhdxMetadataTableEntry[] entries)
    {
        _entries = entries;
    }

    /// <summary>The entries, in table order.</summary>
    public ReadOnlySpan<VhdxMetadataTableEntry> Entries => _entries;

    /// <summary>Reads the table; returns false, naming the field, when the signature or the entry count is wrong.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdxMetadataTable table, out string failedField)
    {
        table = default;
        if (source.Length < VhdxLayout.MetadataTableSize || BinaryPrimitives.ReadUInt64LittleEndian(source) != ExpectedSignature)
        {
            failedField = "Signature";
            return false;
        }

        ushort count = BinaryPrimitives.ReadUInt16LittleEndian(source[EntryCountOffset..]);
        if (count > MaxEntries)
        {
            failedField = "EntryCount";
            return false;
        }

        var entries = new VhdxMetadataTableEntry[count];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = VhdxMetadataTableEntry.Read(source[(EntriesOffset + (i * VhdxMetadataTableEntry.Size))..]);
        }

        failedField = string.Empty;
        table = new VhdxMetadataTable(entries);
        return true;
    }

    /// <summary>Writes the whole 64 KiB table.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> d = destination[..VhdxLayout.MetadataTableSize];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d, ExpectedSignature);
        BinaryPrimitives.WriteUInt16LittleEndian(d[EntryCountOffset..], (ushort)Entries.Length);
        for (int i = 0; i < Entries.Length; i++)
        {
            Entries[i].WriteTo(d[(EntriesOffset + (i * VhdxMetadataTableEntry.Size))..]);
        }
    }
}
