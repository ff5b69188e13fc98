using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// The net effect of one or more sealed logs: an ordered set of non-overlapping extents where, for every byte, the
/// last write in log order wins. Each extent points at the log and file offset of its newest bytes, so data that a
/// later record overwrote is never read, and a log that writes the same 4 KiB a hundred times yields one 4 KiB extent.
/// </summary>
/// <remarks>
/// <para>
/// Built with one sweep over the records' boundaries (O(n log n) for n records; memory about 40 bytes per record while
/// building and 24 bytes per extent after). Extents are ascending by disk offset. Two extents are merged when they are
/// adjacent on the disk and their data is adjacent in the same log file (a sequential stream of writes logged one after
/// another), so each extent is one positional read. Extents adjacent on the disk but not in a file stay separate;
/// the log applier (<c>Transfer.LogApplier</c>) still writes them with one disk write.
/// </para>
/// <para>
/// The logs' own metadata is fully validated (<see cref="HrlReader.ReadRecords()"/>) before any extent exists. The
/// format's per-record data checksums cover whole records and cannot be checked on the parts of records read here;
/// check a shipped log's <see cref="HrlIntegrity"/> sidecar first, as the log applier (<c>Transfer.LogApplier</c>) does.
/// </para>
/// <para>Does not own the readers: dispose them after this object is no longer used. Thread-safe for concurrent reads.</para>
/// </remarks>
public sealed class CoalescedChanges
{
    private readonly HrlReader[] _logs;
    private readonly CoalescedExtent[] _extents;

    private CoalescedChanges(HrlReader[] logs, CoalescedExtent[] extents, long recordCount, long loggedBytes)
    {
        _logs = logs;
        _extents = extents;
        RecordCount = recordCount;
        LoggedBytes = loggedBytes;
        long bytes = 0;
        foreach (CoalescedExtent extent in extents)
        {
            bytes += extent.Length;
        }

        Bytes = bytes;
    }

    /// <summary>The logs, in the order given (chain order): <see cref="CoalescedExtent.LogIndex"/> indexes this list.</summary>
    public IReadOnlyList<HrlReader> Logs => _logs;

    /// <summary>The extents, ascending by disk offset, non-overlapping.</summary>
    public IReadOnlyList<CoalescedExtent> Extents => _extents;

    /// <summary>Records read from the logs.</summary>
    public long RecordCount { get; }

    /// <summary>Bytes of data the records hold (what applying them one by one would write).</summary>
    public long LoggedBytes { get; }

    /// <summary>Bytes the extents cover (what applying the coalesced result writes).</summary>
    public long Bytes { get; }

    /// <summary>Coalesces sealed logs given in chain order (the order the writes happened; chain links are not checked here).</summary>
    /// <exception cref="InvalidLogFormatException">A log is not sealed or its metadata is invalid.</exception>
    public static CoalescedChanges Build(IReadOnlyList<HrlReader> logs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(logs);
        HrlReader[] readers = new HrlReader[logs.Count];
        var enumerations = new IEnumerable<HrlRecord>[logs.Count];
        long total = 0;
        for (int i = 0; i < logs.Count; i++)
        {
            readers[i] = logs[i] ?? throw new ArgumentException("A log is null.", nameof(logs));

            // Validates every block, and the header's entry count against them, before anything is sized by it.
            enumerations[i] = readers[i].ReadRecords();
            total += (long)readers[i].Header.TotalMetadataEntries;
        }

        if (total > Array.MaxLength / 2)
        {
            throw new ArgumentException($"{total} records are more than one coalescing holds.", nameof(logs));
        }

        var sources = new Source[total];
        int n = 0;
        for (int i = 0; i < enumerations.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (HrlRecord record in enumerations[i])
            {
                sources[n++] = new Source(record.DiskOffset, record.FileOffset, (uint)record.Length, i);
            }
        }

        return Build(readers, sources.AsSpan(0, n), cancellationToken);
    }

    /// <summary>The disk ranges changed, ascending and merged regardless of which log holds them.</summary>
    public IEnumerable<DiskExtent> GetChangedRanges()
    {
        long start = -1;
        long end = -1;
        foreach (CoalescedExtent extent in _extents)
        {
            if (extent.DiskOffset == end)
            {
                end = extent.End;
                continue;
            }

            if (start >= 0)
            {
                yield return new DiskExtent(start, end - start);
            }

            start = extent.DiskOffset;
            end = extent.End;
        }

        if (start >= 0)
        {
            yield return new DiskExtent(start, end - start);
        }
    }

    /// <summary>Reads the newest data of part of an extent.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the extent.</exception>
    /// <exception cref="InvalidLogFormatException">The log file was cut short.</exception>
    public void ReadData(in CoalescedExtent extent, long offsetInExtent, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offsetInExtent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offsetInExtent, extent.Length - destination.Length);
        if ((uint)extent.LogIndex >= (uint)_logs.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(extent), extent.LogIndex, "The extent names no log of this set.");
        }

        _logs[extent.LogIndex].ReadFileRange(extent.FileOffset + offsetInExtent, destination);
    }

    /// <summary>
    /// The sweep: every record boundary is a point; between two neighbouring points the newest record covering the span
    /// (the largest index among the records started and not ended, kept in a max-heap with lazy removal) owns it.
    /// Memory: 24 bytes per record for the sources, 28 more while sweeping, 24 per extent kept.
    /// </summary>
    internal static CoalescedChanges Build(HrlReader[] logs, ReadOnlySpan<Source> records, CancellationToken cancellationToken)
    {
        int n = records.Length;
        long loggedBytes = 0;
        long[] starts = new long[n];
        int[] byStart = new int[n];
        long[] points = new long[2 * n];
        for (int i = 0; i < n; i++)
        {
            starts[i] = records[i].DiskOffset;
            byStart[i] = i;
            points[2 * i] = records[i].DiskOffset;
            points[(2 * i) + 1] = records[i].End;
            loggedBytes += records[i].Length;
        }

        Array.Sort(starts, byStart);
        Array.Sort(points);
        int distinct = 0;
        for (int i = 0; i < points.Length; i++)
        {
            if (distinct == 0 || points[i] != points[distinct - 1])
            {
                points[distinct++] = points[i];
            }
        }

        var extents = new List<CoalescedExtent>();
        var active = new PriorityQueue<int, int>(Comparer<int>.Create(static (a, b) => b.CompareTo(a)));
        int next = 0;
        for (int k = 0; k + 1 < distinct; k++)
        {
            if ((k & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            long p = points[k];
            while (next < n && starts[next] <= p)
            {
                active.Enqueue(byStart[next], byStart[next]);
                next++;
            }

            while (active.Count > 0 && records[active.Peek()].End <= p)
            {
                active.Dequeue();
            }

            if (active.Count == 0)
            {
                continue;
            }

            Source owner = records[active.Peek()];
            long q = points[k + 1];
            long fileOffset = owner.FileOffset + (p - owner.DiskOffset);
            if (extents.Count > 0)
            {
                CoalescedExtent last = extents[^1];
                if (last.End == p && last.LogIndex == owner.Log && last.FileOffset + last.Length == fileOffset)
                {
                    extents[^1] = last with { Length = last.Length + (q - p) };
                    continue;
                }
            }

            extents.Add(new CoalescedExtent(p, q - p, owner.Log, fileOffset));
        }

        return new CoalescedChanges(logs, [.. extents], n, loggedBytes);
    }

    /// <summary>A record as the sweep needs it.</summary>
    internal readonly record struct Source(long DiskOffset, long FileOffset, uint Length, int Log)
    {
        public long End => DiskOffset + Length;
    }
}
