using System.Buffers.Binary;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>
/// The field tables of [MS-HRL] sections 2.2 to 2.4 and the section 2.6 checksum, written out in the tests apart from
/// the library's constants, so a wrong offset or checksum in the library cannot agree with itself.
/// </summary>
internal static class HrlSpecLayout
{
    public const int HeaderSize = 4096;

    /// <summary>_CTLOG_HEADER_PACKED in declaration order (offsets follow from the sizes: the structure is packed).</summary>
    public static readonly Field[] HeaderFields = Pack(
        ("Cookie", 8),
        ("LogFormatVersion", 4),
        ("TimeStamp", 4),
        ("CreatorApplication", 4),
        ("CreatorVersion", 4),
        ("OriginalSize", 8),
        ("CurrentSize", 8),
        ("Checksum", 4),
        ("EOLLocation", 8),
        ("ErrorCode", 4),
        ("MetadataSize", 4),
        ("UniqueId", 16),
        ("PreviousUniqueId", 16),
        ("LastModifiedTimeStamp", 4),
        ("TotalMetadataEntries", 8),
        ("FileType", 4),
        ("Flags", 2),
        ("Vhd2DataWriteGuid", 16),
        ("Reserved", 3970));

    /// <summary>_CTLOG_METADATA_HEADER_PACKED.</summary>
    public static readonly Field[] MetadataHeaderFields = Pack(
        ("PreviousMetadataLocation", 8),
        ("ValidMetadataEntries", 4),
        ("Checksum", 4),
        ("Reserved", 16));

    /// <summary>_CTLOG_METADATA_ENTRY_PACKED.</summary>
    public static readonly Field[] EntryFields = Pack(
        ("ByteOffset", 8),
        ("Checksum", 4),
        ("DataLength", 4),
        ("TimeStamp", 4),
        ("MetaOperation", 1),
        ("DataChecksum", 4),
        ("Location", 1),
        ("Reserved", 6));

    public static Field Header(string name) => HeaderFields.Single(f => f.Name == name);

    public static Field MetadataHeader(string name) => MetadataHeaderFields.Single(f => f.Name == name);

    public static Field Entry(string name) => EntryFields.Single(f => f.Name == name);

    /// <summary>Section 2.6, byte by byte: the one's complement of the 32-bit sum, the 4 bytes at <paramref name="ignore"/> skipped.</summary>
    public static uint ReferenceChecksum(ReadOnlySpan<byte> buffer, int ignore = -1)
    {
        uint sum = 0;
        for (int i = 0; i < buffer.Length; i++)
        {
            if (ignore < 0 || i < ignore || i >= ignore + 4)
            {
                sum += buffer[i];
            }
        }

        return ~sum;
    }

    /// <summary>Recomputes a structure's checksum in place (used to corrupt a field "consistently").</summary>
    public static void Restamp(Span<byte> structure, Field[] table)
    {
        int offset = table.Single(f => f.Name == "Checksum").Offset;
        BinaryPrimitives.WriteUInt32LittleEndian(structure[offset..], ReferenceChecksum(structure, offset));
    }

    /// <summary>
    /// The metadata blocks of a sealed, trusted log, found by the spec's walk from EOLLocation back (test-side code):
    /// position and entry count, first block first.
    /// </summary>
    public static List<(long Position, int Count)> WalkBlocks(byte[] log)
    {
        long eol = (long)BinaryPrimitives.ReadUInt64LittleEndian(log.AsSpan(Header("EOLLocation").Offset));
        int metadataSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(Header("MetadataSize").Offset));
        var blocks = new List<(long, int)>();
        long position = eol - metadataSize;
        while (true)
        {
            ulong previous = BinaryPrimitives.ReadUInt64LittleEndian(log.AsSpan((int)position));
            int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan((int)position + 8));
            blocks.Add((position, count));
            if (previous == 0)
            {
                break;
            }

            position -= (long)previous;
        }

        blocks.Reverse();
        return blocks;
    }

    private static Field[] Pack(params (string Name, int Size)[] fields)
    {
        var result = new Field[fields.Length];
        int offset = 0;
        for (int i = 0; i < fields.Length; i++)
        {
            result[i] = new Field(fields[i].Name, offset, fields[i].Size);
            offset += fields[i].Size;
        }

        return result;
    }

    public readonly record struct Field(string Name, int Offset, int Size);
}
