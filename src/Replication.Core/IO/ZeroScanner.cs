namespace Replication.Core.IO;

/// <summary>
/// Splits a buffer into alternating runs of whole all-zero units and data, with vectorised scans
/// (<see cref="MemoryExtensions.IndexOfAnyExcept{T}(ReadOnlySpan{T}, T)"/>): a zero run is at least one unit long, a
/// data run ends at the first all-zero unit. Units are counted from the start of the buffer.
/// </summary>
internal static class ZeroScanner
{
    /// <summary>
    /// The next run at or after <paramref name="position"/>: its end, and whether it is zero. The caller advances
    /// <paramref name="position"/> to the returned end.
    /// </summary>
    public static int NextRun(ReadOnlySpan<byte> data, int position, int unit, out bool isZero)
    {
        int firstNonZero = data[position..].IndexOfAnyExcept((byte)0);
        if (firstNonZero < 0)
        {
            isZero = true;
            return data.Length;
        }

        int dataStart = position + firstNonZero / unit * unit;
        if (dataStart > position)
        {
            isZero = true;
            return dataStart;
        }

        isZero = false;
        int end = Math.Min(data.Length, position + unit);
        while (end < data.Length)
        {
            int unitEnd = Math.Min(data.Length, end + unit);
            if (!data[end..unitEnd].ContainsAnyExcept((byte)0))
            {
                break;
            }

            end = unitEnd;
        }

        return end;
    }
}
