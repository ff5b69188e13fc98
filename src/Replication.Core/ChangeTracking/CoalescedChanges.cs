using System.Buffers;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// The net effect of one or more sealed logs: an ordered set of non-overlapping extents where, for every byte, the
/// last write in log order wins. Each extent points at the log and file offset of its newest bytes, so data that a
/// later record overwrote is never read, and a log that writes the same 4 KiB a hundred times yields one 4 KiB extent.
/// Dispose it when done: its extent table is pooled.
/// </summary>
/// <remarks>
/// <para>
/// Built with one sweep over the records' boundaries (O(n log n) for n records). Every table is rented from
/// <see cref="ArrayPool{T}.Shared"/> and sized once from the validated record count: while building, about 56 bytes per
/// record, returned before <see cref="Build(IReadOnlyList{HrlReader}, CancellationToken)"/> returns (or throws); after, the extent table (32 bytes per distinct record
/// boundary at most), returned by <see cref="Dispose"/>. So applying logs again and again allocates no table per record.
/// Extents are ascending by disk offset. Two extents are merged when they are adjacent on the disk and their data is
/// adjacent in the same log file (a sequential stream of writes logged one after another), so each extent is one
/// positional read. Extents adjacent on the disk but not in a file stay separate; the log applier
/// (<c>Transfer.LogApplier</c>) still writes them with one disk write.
/// </para>
/// <para>
/// The logs' own metadata is fully validated (<see cref="HrlReader.ReadRecords()"/>) before any extent exists. The
/// format's per-record data checksums cover whole records and cannot be checked on the parts of records read here;
/// check a shipped log's <see cref="HrlIntegrity"/> sidecar first, as the log applier (<c>Transfer.LogApplier</c>) does.
/// </para>
/// <para>
/// Does not own the readers: dispose them after this object is no longer used. Thread-safe for concurrent reads; not
/// for reads concurrent with <see cref="Dispose"/>. After <see cref="Dispose"/>, <see cref="Extents"/> (and a list
/// taken from it before), <see cref="GetChangedRanges"/> and <see cref="ReadData"/> throw
/// <see cref="ObjectDisposedException"/>; the counts stay readable.
/// </para>
/// </remarks>
public sealed class CoalescedChanges : IDisposable
{
    private readonly HrlReader[] _logs;
    private readonly int _count;
    private CoalescedExtent[]? _extents;
    private ExtentList? _view;

    private CoalescedChanges(HrlReader[] logs, CoalescedExtent[] extents, int count, long recordCount, long loggedBytes)
    {
        _logs = logs;
        _extents = extents;
        _count = count;
        RecordCount = recordCount;
        LoggedBytes = loggedBytes;
        long bytes = 0;
        foreach (CoalescedExtent extent in extents.AsSpan(0, count))
        {
            bytes += extent.Length;
        }

        Bytes = bytes;
    }

    /// <summary>The logs, in the order given (chain order): <see cref="CoalescedExtent.LogIndex"/> indexes this list.</summary>
    public IReadOnlyList<HrlReader> Logs => _logs;

    /// <summary>The extents, ascending by disk offset, non-overlapping. A view of the pooled table, not a copy.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed (also thrown by the list's members then).</exception>
    public IReadOnlyList<CoalescedExtent> Extents
    {
        get
        {
            ObjectDisposedException.ThrowIf(_extents is null, this);
            return _view ??= new ExtentList(this);
        }
    }

    /// <summary>Records read from the logs.</summary>
    public long RecordCount { get; }

    /// <summary>Bytes of data the records hold (what applying them one by one would write).</summary>
    public long LoggedBytes { get; }

    /// <summary>Bytes the extents cover (what applying the coalesced result writes).</summary>
    public long Bytes { get; }

    /// <summary>Number of extents.</summary>
    internal int ExtentCount => _count;

    /// <summary>The extents as a span of the pooled table: valid until <see cref="Dispose"/>, which must not run while it is used.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    internal ReadOnlySpan<CoalescedExtent> ExtentSpan => Table().AsSpan(0, _count);

    /// <summary>Coalesces sealed logs given in chain order (the order the writes happened; chain links are not checked here).</summary>
    /// <returns>The coalesced extents; dispose them when done.</returns>
    /// <exception cref="InvalidLogFormatException">A log is not sealed or its metadata is invalid.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing is kept.</exception>
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

        Source[] sources = ArrayPool<Source>.Shared.Rent((int)total);
        try
        {
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
        finally
        {
            ArrayPool<Source>.Shared.Return(sources);
        }
    }

    /// <summary>The disk ranges changed, ascending and merged regardless of which log holds them.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed (also thrown while enumerating then).</exception>
    public IEnumerable<DiskExtent> GetChangedRanges()
    {
        ObjectDisposedException.ThrowIf(_extents is null, this);
        return ChangedRanges();
    }

    /// <summary>Reads the newest data of part of an extent.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the extent.</exception>
    /// <exception cref="InvalidLogFormatException">The log file was cut short.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void ReadData(in CoalescedExtent extent, long offsetInExtent, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_extents is null, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offsetInExtent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offsetInExtent, extent.Length - destination.Length);
        if ((uint)extent.LogIndex >= (uint)_logs.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(extent), extent.LogIndex, "The extent names no log of this set.");
        }

        _logs[extent.LogIndex].ReadFileRange(extent.FileOffset + offsetInExtent, destination);
    }

    /// <summary>Returns the extent table to the pool. Idempotent; does not dispose the readers.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _extents, null) is { } table)
        {
            ArrayPool<CoalescedExtent>.Shared.Return(table);
        }
    }

    /// <summary>
    /// The sweep: every record boundary is a point; between two neighbouring points the newest record covering the span
    /// (the largest index among the records started and not ended, kept in a max-heap with lazy removal) owns it.
    /// Every table is pooled and sized once from <paramref name="records"/>: 8 + 4 + 16 + 4 bytes per record while
    /// sweeping, returned before this returns; the extent table (at most one extent per span between distinct points)
    /// goes to the result, or back to the pool when this throws.
    /// </summary>
    internal static CoalescedChanges Build(HrlReader[] logs, ReadOnlySpan<Source> records, CancellationToken cancellationToken)
    {
        int n = records.Length;
        long[] startsTable = ArrayPool<long>.Shared.Rent(n);
        int[] byStartTable = ArrayPool<int>.Shared.Rent(n);
        long[] pointsTable = ArrayPool<long>.Shared.Rent(2 * n);
        int[] heapTable = ArrayPool<int>.Shared.Rent(n);
        CoalescedExtent[]? extents = null;
        try
        {
            Span<long> starts = startsTable.AsSpan(0, n);
            Span<int> byStart = byStartTable.AsSpan(0, n);
            Span<long> points = pointsTable.AsSpan(0, 2 * n);
            long loggedBytes = 0;
            for (int i = 0; i < n; i++)
            {
                starts[i] = records[i].DiskOffset;
                byStart[i] = i;
                points[2 * i] = records[i].DiskOffset;
                points[(2 * i) + 1] = records[i].End;
                loggedBytes += records[i].Length;
            }

            starts.Sort(byStart);
            points.Sort();
            int distinct = 0;
            for (int i = 0; i < points.Length; i++)
            {
                if (distinct == 0 || points[i] != points[distinct - 1])
                {
                    points[distinct++] = points[i];
                }
            }

            // One extent at most per span between neighbouring distinct points: the table never grows.
            extents = ArrayPool<CoalescedExtent>.Shared.Rent(Math.Max(distinct - 1, 0));
            var active = new MaxHeap(heapTable);
            int count = 0;
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
                    active.Push(byStart[next]);
                    next++;
                }

                while (active.Count > 0 && records[active.Top].End <= p)
                {
                    active.Pop();
                }

                if (active.Count == 0)
                {
                    continue;
                }

                Source owner = records[active.Top];
                long q = points[k + 1];
                long fileOffset = owner.FileOffset + (p - owner.DiskOffset);
                if (count > 0)
                {
                    ref CoalescedExtent last = ref extents[count - 1];
                    if (last.End == p && last.LogIndex == owner.Log && last.FileOffset + last.Length == fileOffset)
                    {
                        last = last with { Length = last.Length + (q - p) };
                        continue;
                    }
                }

                extents[count++] = new CoalescedExtent(p, q - p, owner.Log, fileOffset);
            }

            var result = new CoalescedChanges(logs, extents, count, n, loggedBytes);
            extents = null;
            return result;
        }
        finally
        {
            if (extents is not null)
            {
                ArrayPool<CoalescedExtent>.Shared.Return(extents);
            }

            ArrayPool<int>.Shared.Return(heapTable);
            ArrayPool<long>.Shared.Return(pointsTable);
            ArrayPool<int>.Shared.Return(byStartTable);
            ArrayPool<long>.Shared.Return(startsTable);
        }
    }

    private CoalescedExtent[] Table()
    {
        CoalescedExtent[]? table = _extents;
        ObjectDisposedException.ThrowIf(table is null, this);
        return table;
    }

    private IEnumerable<DiskExtent> ChangedRanges()
    {
        long start = -1;
        long end = -1;
        for (int i = 0; i < _count; i++)
        {
            // Read through the field each time: an enumeration left running past Dispose throws, never reads a returned table.
            CoalescedExtent extent = Table()[i];
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
            // Every step of the enumeration checks, the last one too: a disposed result is not used, whatever is left.
            _ = Table();
            yield return new DiskExtent(start, end - start);
        }
    }

    /// <summary>A record as the sweep needs it.</summary>
    internal readonly record struct Source(long DiskOffset, long FileOffset, uint Length, int Log)
    {
        public long End => DiskOffset + Length;
    }

    /// <summary>A binary max-heap of record indices over a caller's table (large enough for every push).</summary>
    private ref struct MaxHeap(int[] table)
    {
        private readonly Span<int> _items = table;

        public int Count { get; private set; }

        public readonly int Top => _items[0];

        public void Push(int item)
        {
            int i = Count++;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (_items[parent] >= item)
                {
                    break;
                }

                _items[i] = _items[parent];
                i = parent;
            }

            _items[i] = item;
        }

        public void Pop()
        {
            int item = _items[--Count];
            int i = 0;
            while (true)
            {
                int child = (2 * i) + 1;
                if (child >= Count)
                {
                    break;
                }

                if (child + 1 < Count && _items[child + 1] > _items[child])
                {
                    child++;
                }

                if (item >= _items[child])
                {
                    break;
                }

                _items[i] = _items[child];
                i = child;
            }

            _items[i] = item;
        }
    }

    /// <summary>The extents as a list, reading the pooled table: throws once the owner is disposed.</summary>
    private sealed class ExtentList(CoalescedChanges owner) : IReadOnlyList<CoalescedExtent>
    {
        public int Count
        {
            get
            {
                _ = owner.Table();
                return owner._count;
            }
        }

        public CoalescedExtent this[int index]
        {
            get
            {
                CoalescedExtent[] table = owner.Table();
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)owner._count, nameof(index));
                return table[index];
            }
        }

        public IEnumerator<CoalescedExtent> GetEnumerator()
        {
            _ = owner.Table();
            for (int i = 0; i < owner._count; i++)
            {
                yield return owner.Table()[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
