using System.Buffers.Binary;
using System.Text;

namespace Replication.Core.Disks.Vhd;

/// <summary>
/// One of the eight 24-byte parent locator entries of a differencing disk's dynamic header: where in the file a
/// platform-specific spelling of the parent's path is stored. Big-endian.
/// </summary>
internal readonly struct VhdParentLocator
{
    /// <summary>Size of one entry in bytes.</summary>
    public const int Size = 24;

    public const int PlatformCodeOffset = 0;
    public const int PlatformDataSpaceOffset = 4;
    public const int PlatformDataLengthOffset = 8;
    public const int PlatformDataOffsetOffset = 16;

    /// <summary>An unused entry.</summary>
    public const uint PlatformNone = 0;

    /// <summary>"Wi2r": relative path in the ANSI code page (deprecated; not read).</summary>
    public const uint PlatformWi2r = 0x5769_3272;

    /// <summary>"Wi2k": absolute path in the ANSI code page (deprecated; not read).</summary>
    public const uint PlatformWi2k = 0x5769_326B;

    /// <summary>"W2ru": relative path, UTF-16LE, Windows separators.</summary>
    public const uint PlatformW2ru = 0x5732_7275;

    /// <summary>"W2ku": absolute path, UTF-16LE, Windows separators.</summary>
    public const uint PlatformW2ku = 0x5732_6B75;

    /// <summary>"Mac ": a Mac OS alias record (not read).</summary>
    public const uint PlatformMac = 0x4D61_6320;

    /// <summary>"MacX": a file URL, UTF-8.</summary>
    public const uint PlatformMacX = 0x4D61_6358;

    /// <summary>
    /// The longest locator data this library reads: a Windows long path of 32767 UTF-16 code units. Bounds the buffer a
    /// hostile length could otherwise size.
    /// </summary>
    public const int MaxDataLength = 32767 * 2;

    public VhdParentLocator(uint platformCode, uint platformDataSpace, uint platformDataLength, ulong platformDataOffset)
    {
        PlatformCode = platformCode;
        PlatformDataSpace = platformDataSpace;
        PlatformDataLength = platformDataLength;
        PlatformDataOffset = platformDataOffset;
    }

    /// <summary>Which kind of path the entry holds.</summary>
    public uint PlatformCode { get; }

    /// <summary>
    /// Space reserved for the data. The specification says sectors, Windows and VirtualBox write bytes; this library
    /// writes bytes (a multiple of 512) and never reads the field.
    /// </summary>
    public uint PlatformDataSpace { get; }

    /// <summary>Length of the path data in bytes.</summary>
    public uint PlatformDataLength { get; }

    /// <summary>File offset of the path data.</summary>
    public ulong PlatformDataOffset { get; }

    /// <summary>Reads one entry (no validation: the entry's data is checked against the file by the disk).</summary>
    public static VhdParentLocator Read(ReadOnlySpan<byte> source) =>
        new(
            BinaryPrimitives.ReadUInt32BigEndian(source[PlatformCodeOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[PlatformDataSpaceOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[PlatformDataLengthOffset..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[PlatformDataOffsetOffset..]));

    /// <summary>Writes the 24 bytes of the entry (reserved field zero).</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination = destination[..Size];
        destination.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination[PlatformCodeOffset..], PlatformCode);
        BinaryPrimitives.WriteUInt32BigEndian(destination[PlatformDataSpaceOffset..], PlatformDataSpace);
        BinaryPrimitives.WriteUInt32BigEndian(destination[PlatformDataLengthOffset..], PlatformDataLength);
        BinaryPrimitives.WriteUInt64BigEndian(destination[PlatformDataOffsetOffset..], PlatformDataOffset);
    }

    /// <summary>
    /// The path stored in <paramref name="data"/> as this platform spells it on the local OS: Windows separators become
    /// '/' off Windows; a MacX file URL becomes its local path. Null when the entry holds nothing usable.
    /// </summary>
    public string? DecodePath(ReadOnlySpan<byte> data)
    {
        string? path;
        switch (PlatformCode)
        {
            case PlatformW2ru:
            case PlatformW2ku:
                path = Encoding.Unicode.GetString(data[..(data.Length & ~1)]);
                path = ToLocalSeparators(TrimAtNul(path));
                break;
            case PlatformMacX:
                path = TrimAtNul(Encoding.UTF8.GetString(data));
                if (Uri.TryCreate(path, UriKind.Absolute, out Uri? uri) && uri.IsFile)
                {
                    // "file://localhost/a/b" and "file:///a/b" name /a/b on this machine; LocalPath would make the
                    // first a UNC path.
                    path = uri.IsUnc && !uri.IsLoopback ? uri.LocalPath : Uri.UnescapeDataString(uri.AbsolutePath);
                }

                break;
            default:
                return null;
        }

        return string.IsNullOrWhiteSpace(path) ? null : path;
    }

    /// <summary>The four-character code as text, for messages.</summary>
    public static string PlatformName(uint code)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, code);
        foreach (byte b in bytes)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return $"0x{code:X8}";
            }
        }

        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>Turns Windows separators into this OS's (a backslash is an ordinary file name character on Unix).</summary>
    internal static string ToLocalSeparators(string path) =>
        Path.DirectorySeparatorChar == '\\' ? path : path.Replace('\\', Path.DirectorySeparatorChar);

    private static string TrimAtNul(string value)
    {
        int nul = value.IndexOf('\0', StringComparison.Ordinal);
        return nul >= 0 ? value[..nul] : value;
    }
}
