using System.Buffers.Binary;
using System.Text;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The parent locator metadata item ([MS-VHDX] 2.6.2.6): a locator type and UTF-16 key/value pairs that identify
/// the parent (parent_linkage, parent_linkage2) and say where to find it (relative_path, volume_path,
/// absolute_win32_path).
/// </summary>
internal readonly struct VhdxParentLocator
{
    /// <summary>Key of the parent's DataWriteGuid at the time the child was created.</summary>
    public const string ParentLinkageKey = "parent_linkage";

    /// <summary>Key of an alternative parent identity, used while a merge is in progress.</summary>
    public const string ParentLinkage2Key = "parent_linkage2";

    /// <summary>Key of the parent's path relative to the child's folder, with '\' separators.</summary>
    public const string RelativePathKey = "relative_path";

    /// <summary>Key of the parent's path on a volume GUID path (Windows).</summary>
    public const string VolumePathKey = "volume_path";

    /// <summary>Key of the parent's absolute extended-length Win32 path.</summary>
    public const string AbsoluteWin32PathKey = "absolute_win32_path";

    /// <summary>Bytes of the locator header.</summary>
    public const int HeaderSize = 20;

    /// <summary>Bytes of one key/value entry.</summary>
    public const int EntrySize = 12;

    private const int LocatorTypeOffset = 0;
    private const int KeyValueCountOffset = 18;
    private const int KeyOffsetOffset = 0;
    private const int ValueOffsetOffset = 4;
    private const int KeyLengthOffset = 8;
    private const int ValueLengthOffset = 10;

    private readonly KeyValuePair<string, string>[]? _entries;

    public VhdxParentLocator(KeyValuePair<string, string>[] entries)
    {
        _entries = entries;
    }

    /// <summary>The key/value pairs in item order.</summary>
    public ReadOnlySpan<KeyValuePair<string, string>> Entries => _entries;

    /// <summary>The value of <paramref name="key"/> (keys are case sensitive), or null.</summary>
    public string? this[string key]
    {
        get
        {
            foreach (KeyValuePair<string, string> pair in Entries)
            {
                if (string.Equals(pair.Key, key, StringComparison.Ordinal))
                {
                    return pair.Value;
                }
            }

            return null;
        }
    }

    /// <summary>Bytes the item takes when written.</summary>
    public int Length
    {
        get
        {
            int length = HeaderSize + (Entries.Length * EntrySize);
            foreach (KeyValuePair<string, string> pair in Entries)
            {
                length += (pair.Key.Length + pair.Value.Length) * 2;
            }

            return length;
        }
    }

    /// <summary>
    /// Reads and validates the item: the locator type, the entry count against the item's length, every key and value
    /// range, UTF-16 content without NUL characters, and unique keys.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">Any of those is wrong.</exception>
    public static VhdxParentLocator Read(ReadOnlySpan<byte> item, string filePath, long fileOffset)
    {
        const string Name = "VHDX parent locator";
        if (item.Length < HeaderSize)
        {
            throw new InvalidDiskFormatException(filePath, fileOffset, Name, $"the item is {item.Length} bytes, shorter than its {HeaderSize}-byte header");
        }

        var type = new Guid(item.Slice(LocatorTypeOffset, 16));
        if (type != VhdxLayout.VhdxParentLocatorType)
        {
            throw new InvalidDiskFormatException(filePath, fileOffset + LocatorTypeOffset, Name + ".LocatorType", $"locator type {type} is not the VHDX parent locator type");
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(item[KeyValueCountOffset..]);
        if (HeaderSize + ((long)count * EntrySize) > item.Length)
        {
            throw new InvalidDiskFormatException(filePath, fileOffset + KeyValueCountOffset, Name + ".KeyValueCount", $"{count} entries do not fit in the {item.Length}-byte item");
        }

        var entries = new KeyValuePair<string, string>[count];
        for (int i = 0; i < count; i++)
        {
            int at = HeaderSize + (i * EntrySize);
            ReadOnlySpan<byte> entry = item.Slice(at, EntrySize);
            string prefix = $"{Name}.Entry[{i}]";
            string key = ReadString(item, entry, KeyOffsetOffset, KeyLengthOffset, filePath, fileOffset + at, prefix + ".Key");
            string value = ReadString(item, entry, ValueOffsetOffset, ValueLengthOffset, filePath, fileOffset + at, prefix + ".Value");
            for (int j = 0; j < i; j++)
            {
                if (string.Equals(entries[j].Key, key, StringComparison.Ordinal))
                {
                    throw new InvalidDiskFormatException(filePath, fileOffset + at, prefix + ".Key", $"the key '{key}' appears twice");
                }
            }

            entries[i] = new KeyValuePair<string, string>(key, value);
        }

        return new VhdxParentLocator(entries);
    }

    /// <summary>Writes the item: header, entries, then the UTF-16 keys and values packed after the entries.</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> d = destination[..Length];
        d.Clear();
        VhdxLayout.VhdxParentLocatorType.TryWriteBytes(d[LocatorTypeOffset..]);
        BinaryPrimitives.WriteUInt16LittleEndian(d[KeyValueCountOffset..], (ushort)Entries.Length);
        int data = HeaderSize + (Entries.Length * EntrySize);
        for (int i = 0; i < Entries.Length; i++)
        {
            Span<byte> entry = d.Slice(HeaderSize + (i * EntrySize), EntrySize);
            int keyBytes = Encoding.Unicode.GetBytes(Entries[i].Key, d[data..]);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[KeyOffsetOffset..], (uint)data);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[KeyLengthOffset..], (ushort)keyBytes);
            data += keyBytes;
            int valueBytes = Encoding.Unicode.GetBytes(Entries[i].Value, d[data..]);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[ValueOffsetOffset..], (uint)data);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[ValueLengthOffset..], (ushort)valueBytes);
            data += valueBytes;
        }
    }

    private static string ReadString(
        ReadOnlySpan<byte> item, ReadOnlySpan<byte> entry, int offsetField, int lengthField, string filePath, long entryFileOffset, string field)
    {
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(entry[offsetField..]);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(entry[lengthField..]);
        if (offset == 0 || length == 0 || length % 2 != 0 || offset > (uint)item.Length || length > item.Length - (int)offset)
        {
            throw new InvalidDiskFormatException(
                filePath,
                entryFileOffset + offsetField,
                field,
                $"offset {offset} and length {length} do not lie inside the {item.Length}-byte item as a non-empty UTF-16 string");
        }

        string text = Encoding.Unicode.GetString(item.Slice((int)offset, length));
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDiskFormatException(filePath, entryFileOffset + offsetField, field, "the string contains a NUL character");
        }

        return text;
    }
}
