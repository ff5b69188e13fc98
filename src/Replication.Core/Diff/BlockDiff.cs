using System.Buffers;
using Replication.Core.Disks;

namespace Replication.Core.Diff;

/// <summary>
/// The difference between two manifests of disks of the same size and block sizes, found in two levels: coarse block
/// hashes first, then, only inside coarse blocks that differ, fine block hashes. The result is the set of differing
/// fine blocks as merged, ascending byte ranges.
/// </summary>
public sealed class BlockDiff
{
    /// <summary>Bytes one coarse block hash costs on the wire (its XxHash128; zero blocks are hash 0).</summary>
    internal const int CoarseHashWireBytes = 16;

    /// <summary>Bytes one fine block hash costs on the wire (its XxHash128).</summary>
    internal const int FineHashWireBytes = 16;

    /// <summary>Bytes that name a differing coarse block on the wire (its index).</summary>
    internal const int BlockIndexWireBytes = 4;

    /// <summary>Bytes that head each range of data or zeros on the wire (offset and length).</summary>
    internal const int RangeHeaderWireBytes = 16;

    private BlockDiff(IReadOnlyList<DiskExtent> ranges, DiffTotals totals, long bytesCompared)
    {
        Ranges = ranges;
        ChangedBytes = totals.ChangedBytes;
        ZeroBytes = totals.ZeroBytes;
        DifferingBlocks = totals.DifferingBlocks;
        ManifestBytes = totals.ManifestBytes;
        BytesCompared = bytesCompared;
    }

    /// <summary>The differing bytes: whole fine blocks, merged, ascending, non-overlapping.</summary>
    public IReadOnlyList<DiskExtent> Ranges { get; }

    /// <summary>Total length of <see cref="Ranges"/>.</summary>
    public long ChangedBytes { get; }

    /// <summary>Bytes of <see cref="ChangedBytes"/> where the source reads as zeros (sent as a range header, not data).</summary>
    public long ZeroBytes { get; }

    /// <summary>Bytes of <see cref="ChangedBytes"/> whose data must be sent.</summary>
    public long DataBytes => ChangedBytes - ZeroBytes;

    /// <summary>Bytes covered by the comparison: the virtual size.</summary>
    public long BytesCompared { get; }

    /// <summary>Coarse blocks whose hashes differ.</summary>
    public int DifferingBlocks { get; }

    /// <summary>
    /// Bytes of metadata a two-site resync exchanges for this diff: one side's coarse hashes for the whole disk, the
    /// indices of differing coarse blocks with one side's fine hashes for them, and a header per range of data or zeros.
    /// </summary>
    public long ManifestBytes { get; }

    /// <summary>
    /// Compares <paramref name="source"/> with <paramref name="target"/>. A coarse block whose hashes differ while all
    /// its fine hashes match (which the Merkle coarse hash makes impossible short of a corrupt file) is reported whole, so it
    /// is never missed.
    /// </summary>
    /// <exception cref="InvalidManifestException">The manifests differ in virtual size or block sizes (names <paramref name="target"/>'s field), or a run of fine hashes fails its checksum.</exception>
    public static BlockDiff Compare(BlockManifest source, BlockManifest target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        target.EnsureGeometry(source.VirtualSize, source.CoarseBlockSize, source.FineBlockSize);
        var ranges = new List<DiskExtent>();
        var totals = new DiffTotals();
        foreach (DiffRange range in EnumerateRanges(source, target, 0, totals, cancellationToken))
        {
            if (ranges.Count > 0 && ranges[^1].End == range.Offset)
            {
                ranges[^1] = ranges[^1] with { Length = ranges[^1].Length + range.Length };
            }
            else
            {
                ranges.Add(new DiskExtent(range.Offset, range.Length));
            }
        }

        return new BlockDiff(ranges, totals, source.VirtualSize);
    }

    /// <summary>
    /// The differing runs at or after byte <paramref name="from"/>, ascending; adjacent runs are merged when they agree
    /// on <see cref="DiffRange.IsZero"/>. Fills <paramref name="totals"/> as it goes (for the runs it yields, and the
    /// wire cost of the manifests for the whole disk). Reads fine hashes only for coarse blocks that differ.
    /// </summary>
    internal static IEnumerable<DiffRange> EnumerateRanges(BlockManifest source, BlockManifest target, long from, DiffTotals totals, CancellationToken cancellationToken)
    {
        int perCoarse = source.FineBlocksPerCoarseBlock;
        long coarse = source.CoarseBlockSize;
        long fine = source.FineBlockSize;
        totals.ManifestBytes += (long)source.CoarseBlockCount * CoarseHashWireBytes;
        UInt128[] sourceFine = ArrayPool<UInt128>.Shared.Rent(perCoarse);
        UInt128[] targetFine = ArrayPool<UInt128>.Shared.Rent(perCoarse);
        try
        {
            DiffRange pending = default;
            for (int block = 0; block < source.CoarseBlockCount; block++)
            {
                if (source.GetBlockHash(block) == target.GetBlockHash(block))
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                long blockStart = block * coarse;
                long blockEnd = Math.Min(source.VirtualSize, blockStart + coarse);
                int count = source.ReadFineHashes(block, sourceFine);
                target.ReadFineHashes(block, targetFine);
                totals.DifferingBlocks++;
                totals.ManifestBytes += BlockIndexWireBytes + ((long)count * FineHashWireBytes);
                bool anyFine = false;
                for (int f = 0; f < count; f++)
                {
                    if (sourceFine[f] == targetFine[f])
                    {
                        continue;
                    }

                    anyFine = true;
                    long start = blockStart + (f * fine);
                    var run = new DiffRange(start, Math.Min(fine, blockEnd - start), sourceFine[f] == UInt128.Zero);
                    if (Clip(run, from) is { } clipped && Merge(ref pending, clipped, totals) is { } ready)
                    {
                        yield return ready;
                    }
                }

                if (!anyFine)
                {
                    // The coarse hashes differ but every fine hash matches: the coarse hash is the hash of the fine
                    // hashes, so this takes a corrupt manifest. Send the whole block rather than trust either.
                    var whole = new DiffRange(blockStart, blockEnd - blockStart, source.GetBlockHash(block) == UInt128.Zero);
                    if (Clip(whole, from) is { } clipped && Merge(ref pending, clipped, totals) is { } ready)
                    {
                        yield return ready;
                    }
                }
            }

            if (pending.Length > 0)
            {
                totals.Add(pending);
                yield return pending;
            }
        }
        finally
        {
            ArrayPool<UInt128>.Shared.Return(targetFine);
            ArrayPool<UInt128>.Shared.Return(sourceFine);
        }
    }

    private static DiffRange? Clip(DiffRange run, long from) =>
        run.End <= from ? null : run.Offset >= from ? run : new DiffRange(from, run.End - from, run.IsZero);

    /// <summary>Extends <paramref name="pending"/> with <paramref name="next"/>, or returns the finished pending run and starts a new one.</summary>
    private static DiffRange? Merge(ref DiffRange pending, DiffRange next, DiffTotals totals)
    {
        if (pending.Length > 0 && pending.End == next.Offset && pending.IsZero == next.IsZero)
        {
            pending = pending with { Length = pending.Length + next.Length };
            return null;
        }

        DiffRange ready = pending;
        pending = next;
        if (ready.Length == 0)
        {
            return null;
        }

        totals.Add(ready);
        return ready;
    }
}
