using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>The oracle for diffs: computed from two byte arrays directly, fine block by fine block.</summary>
public static class DiffModel
{
    /// <summary>The fine blocks in which <paramref name="a"/> and <paramref name="b"/> differ, merged and ascending.</summary>
    public static List<DiskExtent> ExpectedRanges(byte[] a, byte[] b, int fineBlockSize)
    {
        var ranges = new List<DiskExtent>();
        for (long offset = 0; offset < a.Length; offset += fineBlockSize)
        {
            int length = (int)Math.Min(fineBlockSize, a.Length - offset);
            if (a.AsSpan((int)offset, length).SequenceEqual(b.AsSpan((int)offset, length)))
            {
                continue;
            }

            if (ranges.Count > 0 && ranges[^1].End == offset)
            {
                ranges[^1] = ranges[^1] with { Length = ranges[^1].Length + length };
            }
            else
            {
                ranges.Add(new DiskExtent(offset, length));
            }
        }

        return ranges;
    }

    /// <summary>Bytes of the differing fine blocks where <paramref name="source"/> is all zeros.</summary>
    public static long ZeroBytes(byte[] source, byte[] target, int fineBlockSize)
    {
        long zero = 0;
        for (long offset = 0; offset < source.Length; offset += fineBlockSize)
        {
            int length = (int)Math.Min(fineBlockSize, source.Length - offset);
            ReadOnlySpan<byte> s = source.AsSpan((int)offset, length);
            if (!s.SequenceEqual(target.AsSpan((int)offset, length)) && s.IndexOfAnyExcept((byte)0) < 0)
            {
                zero += length;
            }
        }

        return zero;
    }

    /// <summary>Random data in scattered runs with zero regions between them.</summary>
    public static byte[] Content(Random random, long size)
    {
        byte[] content = new byte[size];
        int runs = random.Next(0, 10);
        for (int i = 0; i < runs; i++)
        {
            int length = random.Next(1, (int)Math.Min(size, 400_000) + 1);
            int offset = random.Next(0, (int)(size - length) + 1);
            random.NextBytes(content.AsSpan(offset, length));
        }

        return content;
    }

    /// <summary>
    /// A copy of <paramref name="content"/> with scattered changes: random data, runs of zeros (so the source is zero
    /// where the copy is not, and the other way round), single bytes, aligned and unaligned.
    /// </summary>
    public static byte[] Changed(Random random, byte[] content)
    {
        byte[] changed = (byte[])content.Clone();
        int changes = random.Next(0, 25);
        for (int i = 0; i < changes; i++)
        {
            int length = random.Next(3) switch
            {
                0 => 1,
                1 => random.Next(1, 9) * 512,
                _ => random.Next(1, 70_000),
            };
            length = Math.Min(length, changed.Length);
            int offset = random.Next(0, changed.Length - length + 1);
            if (random.Next(4) == 0)
            {
                changed.AsSpan(offset, length).Clear();
            }
            else
            {
                random.NextBytes(changed.AsSpan(offset, length));
            }
        }

        return changed;
    }
}
