using System.Buffers.Binary;
using System.IO.Hashing;
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

    /// <summary>The manifest's fine hash of <paramref name="piece"/>, computed here: 0 for zeros, else its XxHash128 (1 for 0).</summary>
    public static UInt128 FineHash(ReadOnlySpan<byte> piece)
    {
        if (!piece.ContainsAnyExcept((byte)0))
        {
            return UInt128.Zero;
        }

        UInt128 hash = XxHash128.HashToUInt128(piece);
        return hash == UInt128.Zero ? UInt128.One : hash;
    }

    /// <summary>
    /// The manifest's hash of a coarse block, computed here: 0 for zeros, else the XxHash128 of its fine hashes laid end
    /// to end as 16-byte little-endian values (1 for 0).
    /// </summary>
    public static UInt128 BlockHash(ReadOnlySpan<byte> block, int fineBlockSize)
    {
        if (!block.ContainsAnyExcept((byte)0))
        {
            return UInt128.Zero;
        }

        int fines = (block.Length + fineBlockSize - 1) / fineBlockSize;
        byte[] run = new byte[fines * 16];
        for (int f = 0; f < fines; f++)
        {
            UInt128 h = FineHash(block.Slice(f * fineBlockSize, Math.Min(fineBlockSize, block.Length - (f * fineBlockSize))));
            BinaryPrimitives.WriteUInt64LittleEndian(run.AsSpan(f * 16), (ulong)h);
            BinaryPrimitives.WriteUInt64LittleEndian(run.AsSpan((f * 16) + 8), (ulong)(h >> 64));
        }

        UInt128 hash = XxHash128.HashToUInt128(run);
        return hash == UInt128.Zero ? UInt128.One : hash;
    }

    /// <summary>
    /// The wire cost of the metadata a resync of <paramref name="target"/> to <paramref name="source"/> exchanges: 16
    /// bytes per coarse block; per differing coarse block a 4-byte index and 16 bytes per fine block; 16 bytes per range,
    /// ranges being maximal runs of differing fine blocks that agree on whether the source reads as zeros.
    /// </summary>
    public static long ManifestBytes(byte[] source, byte[] target, int coarseBlockSize, int fineBlockSize)
    {
        long bytes = 0;
        for (long offset = 0; offset < source.Length; offset += coarseBlockSize)
        {
            int length = (int)Math.Min(coarseBlockSize, source.Length - offset);
            bytes += 16;
            if (!source.AsSpan((int)offset, length).SequenceEqual(target.AsSpan((int)offset, length)))
            {
                bytes += 4 + (16L * ((length + fineBlockSize - 1) / fineBlockSize));
            }
        }

        bool? previousZero = null;
        for (long offset = 0; offset < source.Length; offset += fineBlockSize)
        {
            int length = (int)Math.Min(fineBlockSize, source.Length - offset);
            ReadOnlySpan<byte> s = source.AsSpan((int)offset, length);
            if (s.SequenceEqual(target.AsSpan((int)offset, length)))
            {
                previousZero = null;
                continue;
            }

            bool zero = !s.ContainsAnyExcept((byte)0);
            bytes += previousZero == zero ? 0 : 16;
            previousZero = zero;
        }

        return bytes;
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
