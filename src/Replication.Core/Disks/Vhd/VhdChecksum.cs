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
}
