using System.Buffers.Binary;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// The 512-byte footer of a fixed VHD (Virtual Hard Disk Image Format Specification, 2006), big-endian, kept at the end
/// of the page blob so that the blob is a fixed VHD Azure can boot. Internal to the Azure target until the VHD format's
/// own footer structure is shared.
/// </summary>
internal static class FixedVhdFooter
{
    public const int Size = 512;
    private const int ChecksumOffset = 64;
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static ReadOnlySpan<byte> Cookie => "conectix"u8;

    /// <summary>Writes the footer of a fixed disk of <paramref name="virtualSize"/> bytes.</summary>
    public static void Write(Span<byte> footer, long virtualSize, Guid uniqueId, DateTimeOffset createdAt)
    {
        footer[..Size].Clear();
        Cookie.CopyTo(footer);
        BinaryPrimitives.WriteUInt32BigEndian(footer[8..], 2); // features: reserved bit, always set
        BinaryPrimitives.WriteUInt32BigEndian(footer[12..], 0x00010000);
        BinaryPrimitives.WriteUInt64BigEndian(footer[16..], ulong.MaxValue); // data offset: none for a fixed disk
        BinaryPrimitives.WriteUInt32BigEndian(footer[24..], (uint)Math.Max(0, (createdAt - Epoch).TotalSeconds));

        // "win " (Hyper-V) tells readers such as qemu to take the size from Current Size rather than from CHS geometry,
        // which cannot express every whole-MiB size exactly.
        "win "u8.CopyTo(footer[28..]);
        BinaryPrimitives.WriteUInt32BigEndian(footer[32..], 0x000A0000);
        "Wi2k"u8.CopyTo(footer[36..]);
        BinaryPrimitives.WriteUInt64BigEndian(footer[40..], (ulong)virtualSize);
        BinaryPrimitives.WriteUInt64BigEndian(footer[48..], (ulong)virtualSize);
        (ushort cylinders, byte heads, byte sectors) = Geometry(virtualSize);
        BinaryPrimitives.WriteUInt16BigEndian(footer[56..], cylinders);
        footer[58] = heads;
        footer[59] = sectors;
        BinaryPrimitives.WriteUInt32BigEndian(footer[60..], 2); // fixed
        uniqueId.TryWriteBytes(footer.Slice(68, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt32BigEndian(footer[ChecksumOffset..], Checksum(footer[..Size]));
    }

    /// <summary>
    /// Checks the cookie, checksum and type of a footer and returns the disk size it states; false when the bytes are not
    /// the footer of a fixed disk.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> footer, out long virtualSize, out string problem)
    {
        virtualSize = 0;
        if (footer.Length < Size || !footer[..8].SequenceEqual(Cookie))
        {
            problem = "no \"conectix\" cookie";
            return false;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(footer[ChecksumOffset..]) != Checksum(footer[..Size]))
        {
            problem = "the checksum does not match";
            return false;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(footer[60..]) != 2)
        {
            problem = "the disk type is not fixed (2)";
            return false;
        }

        ulong size = BinaryPrimitives.ReadUInt64BigEndian(footer[48..]);
        if (size == 0 || size % 512 != 0 || size > long.MaxValue)
        {
            problem = $"the current size {size} is not a positive multiple of 512";
            return false;
        }

        virtualSize = (long)size;
        problem = "";
        return true;
    }

    /// <summary>One's complement of the byte sum, the checksum field left out.</summary>
    private static uint Checksum(ReadOnlySpan<byte> footer)
    {
        uint sum = 0;
        for (int i = 0; i < footer.Length; i++)
        {
            if (i < ChecksumOffset || i >= ChecksumOffset + 4)
            {
                sum += footer[i];
            }
        }

        return ~sum;
    }

    /// <summary>CHS geometry as the specification's appendix computes it.</summary>
    private static (ushort Cylinders, byte Heads, byte SectorsPerTrack) Geometry(long virtualSize)
    {
        long totalSectors = Math.Min(virtualSize / 512, 65535L * 16 * 255);
        long sectorsPerTrack, heads, cylinderTimesHeads;
        if (totalSectors >= 65535L * 16 * 63)
        {
            sectorsPerTrack = 255;
            heads = 16;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
        }
        else
        {
            sectorsPerTrack = 17;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
            heads = Math.Max(4, (cylinderTimesHeads + 1023) / 1024);
            if (cylinderTimesHeads >= heads * 1024 || heads > 16)
            {
                sectorsPerTrack = 31;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }

            if (cylinderTimesHeads >= heads * 1024)
            {
                sectorsPerTrack = 63;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }
        }

        return ((ushort)(cylinderTimesHeads / heads), (byte)heads, (byte)sectorsPerTrack);
    }
}
