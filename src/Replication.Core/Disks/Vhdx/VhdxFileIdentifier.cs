using System.Buffers.Binary;
using System.Text;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The file type identifier at offset 0 ([MS-VHDX] 2.2.1): the signature "vhdxfile" and an optional UTF-16 creator
/// string, for diagnostics only. Never rewritten after the file is created.
/// </summary>
internal readonly struct VhdxFileIdentifier
{
    /// <summary>"vhdxfile" read as a little-endian 64-bit integer.</summary>
    public const ulong ExpectedSignature = 0x656C6966_78646876;

    /// <summary>Bytes of the structure: the signature and 512 bytes of creator.</summary>
    public const int Size = 8 + CreatorLength;

    private const int SignatureOffset = 0;
    private const int CreatorOffset = 8;
    private const int CreatorLength = 512;

    public VhdxFileIdentifier(string creator)
    {
        Creator = creator;
    }

    /// <summary>Who created the file; informational.</summary>
    public string Creator { get; }

    /// <summary>Reads the identifier; false when the signature is not "vhdxfile".</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out VhdxFileIdentifier identifier)
    {
        identifier = default;
        if (source.Length < Size || BinaryPrimitives.ReadUInt64LittleEndian(source[SignatureOffset..]) != ExpectedSignature)
        {
            return false;
        }

        ReadOnlySpan<byte> creator = source.Slice(CreatorOffset, CreatorLength);
        int end = 0;
        while (end + 1 < creator.Length && (creator[end] != 0 || creator[end + 1] != 0))
        {
            end += 2;
        }

        identifier = new VhdxFileIdentifier(Encoding.Unicode.GetString(creator[..end]));
        return true;
    }

    /// <summary>Writes the signature and the creator (truncated to 255 UTF-16 units so a terminator fits).</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[..Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(destination[SignatureOffset..], ExpectedSignature);
        string creator = Creator ?? string.Empty;
        if (creator.Length > (CreatorLength / 2) - 1)
        {
            creator = creator[..((CreatorLength / 2) - 1)];
        }

        Encoding.Unicode.GetBytes(creator, destination.Slice(CreatorOffset, CreatorLength));
    }
}
