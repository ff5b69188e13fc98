namespace Replication.Core.Disks.Vhd;

/// <summary>
/// The checksum of the VHD footer and dynamic header: the one's complement of the 32-bit sum of every byte of the
/// structure, the four bytes of the checksum field itself left out of the sum.
/// </summary>
internal static class VhdChecksum
{
    /// <summary>Computes the checksum of <paramref name="structure"/>, skipping the field at <paramref name="checksumOffset"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> structure, int checksumOffset)
    {
        uint sum = 0;
        for (int i = 0; i < structure.Length; i++)
        {
            // Skipping the field (rather than zeroing a copy) lets callers checksum a read-only span in place.
            if ((uint)(i - checksumOffset) >= sizeof(uint))
            {
                sum += structure[i];
            }
        }

        return ~sum;
    }

    /// <summary>
    /// The checks every checksummed VHD structure starts with, in order: length, cookie (at offset 0), then checksum.
    /// <paramref name="name"/> names the structure in the error.
    /// </summary>
    public static bool TryValidate(ReadOnlySpan<byte> source, int size, ReadOnlySpan<byte> cookie, int checksumOffset, string name, out VhdFieldError error)
    {
        if (source.Length < size)
        {
            error = new VhdFieldError(0, name, $"only {source.Length} of its {size} bytes are present");
            return false;
        }

        source = source[..size];
        if (!source[..cookie.Length].SequenceEqual(cookie))
        {
            error = new VhdFieldError(0, name + ".Cookie", $"the cookie is not \"{System.Text.Encoding.ASCII.GetString(cookie)}\"");
            return false;
        }

        uint stored = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(source[checksumOffset..]);
        uint computed = Compute(source, checksumOffset);
        if (stored != computed)
        {
            error = new VhdFieldError(checksumOffset, name + ".Checksum", $"stored 0x{stored:X8}, computed 0x{computed:X8}");
            return false;
        }

        error = default;
        return true;
    }
}
