namespace Replication.Core.Disks.Vhd;

/// <summary>
/// The sector bitmap that precedes each block's data: one bit per sector, the most significant bit of byte 0 for the
/// block's first sector. A set bit means the sector's data is in this file; a clear bit means it reads from the parent
/// (differencing disks) or as zeros (dynamic disks).
/// </summary>
internal static class VhdSectorBitmap
{
    /// <summary>True when the bit of <paramref name="sector"/> is set.</summary>
    public static bool IsSet(ReadOnlySpan<byte> bitmap, int sector) => (bitmap[sector >> 3] & (0x80 >> (sector & 7))) != 0;

    /// <summary>Sets the bits of sectors [<paramref name="first"/>, <paramref name="end"/>).</summary>
    public static void SetRange(Span<byte> bitmap, int first, int end)
    {
        int s = first;
        while (s < end && (s & 7) != 0)
        {
            bitmap[s >> 3] |= (byte)(0x80 >> (s & 7));
            s++;
        }

        int wholeBytes = (end - s) >> 3;
        if (wholeBytes > 0)
        {
            bitmap.Slice(s >> 3, wholeBytes).Fill(0xFF);
            s += wholeBytes << 3;
        }

        while (s < end)
        {
            bitmap[s >> 3] |= (byte)(0x80 >> (s & 7));
            s++;
        }
    }

    /// <summary>
    /// The first sector in [<paramref name="from"/>, <paramref name="end"/>) whose bit is not <paramref name="value"/>,
    /// or <paramref name="end"/>. Skips whole bytes with a vectorised search.
    /// </summary>
    public static int NextDifferent(ReadOnlySpan<byte> bitmap, int from, int end, bool value)
    {
        byte same = value ? (byte)0xFF : (byte)0x00;
        int s = from;
        while (s < end)
        {
            if ((s & 7) == 0 && end - s >= 8)
            {
                int firstByte = s >> 3;
                int idx = bitmap[firstByte..(end >> 3)].IndexOfAnyExcept(same);
                if (idx < 0)
                {
                    s = (end >> 3) << 3;
                    continue;
                }

                s = (firstByte + idx) << 3;
            }

            if (IsSet(bitmap, s) != value)
            {
                return s;
            }

            s++;
        }

        return end;
    }

    /// <summary>True when every sector in [<paramref name="first"/>, <paramref name="end"/>) has its bit set.</summary>
    public static bool AllSet(ReadOnlySpan<byte> bitmap, int first, int end) => NextDifferent(bitmap, first, end, value: true) == end;
}
