using System.Globalization;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// A virtual disk whose every write is also recorded, in order, in a chain of Hyper-V Replica Log (MS-HRL v2) files
/// kept in a folder beside it, so the changes can be shipped and applied elsewhere. It is an <see cref="IVirtualDisk"/>:
/// whatever takes a disk can take it.
/// </summary>
/// <remarks>
/// <para>
/// <b>Writes.</b> A write is appended to the active log (buffered) and written to the underlying disk, and returns once
/// both are issued. Writes are durable once <see cref="FlushAsync"/> (or <see cref="Flush"/>) returns after them: the
/// log is committed and fsynced, then the disk is flushed. Flushes are group-committed: flushers that arrive while a
/// flush is running share the next one. Concurrent writers are safe: the log and the disk see overlapping writes in the
/// same order (a write waits for an earlier overlapping one still in flight), so replaying the logs gives the disk.
/// Writers are serialised only for the log append (a copy into the log's buffer, and the buffer's write to the file
/// when it fills). Unaligned writes are logged as the 512-byte sectors that cover them: the partial head and tail
/// sectors are read from the disk first, and the disk receives the same whole sectors.
/// </para>
/// <para>
/// <b>Rotation.</b> <see cref="RotateAsync"/> seals the active log and continues in a new one chained to it by
/// <c>PreviousUniqueId</c>. Writers are held only while the logs are swapped; the old log is sealed after the swap,
/// and is durable, hashed and recorded when the call returns. Sealed logs stay until <see cref="ReleaseAsync"/>.
/// </para>
/// <para>
/// <b>State.</b> The chain, sequence numbers, hashes, resync reasons and write-intent regions are kept in a small
/// versioned, checksummed file beside the logs, replaced atomically. Before the first write into a region of the disk
/// (1024 regions by default) is durably marked, and a rotation unmarks the regions written in neither the new log nor the
/// one it sealed; after a crash the marked regions cover every place the disk may hold writes no sealed log has, and are
/// reported as the ranges a resync must check.
/// </para>
/// <para>
/// <b>Crash recovery.</b> <see cref="Open"/> seals the logs a crash left open (cutting their torn tails: batches whose
/// metadata block never became durable), records <see cref="ResyncReasons.UncleanShutdown"/> with the marked regions,
/// removes leftovers of interrupted rotations and releases, and starts a new active log. Every write acknowledged by a
/// completed flush is in the disk and in a sealed log afterwards. What cannot be known after a crash: which writes
/// issued after the last completed flush reached the disk, and which reached the log; the marked regions cover both.
/// </para>
/// <para>
/// <b>Failures.</b> A failed log write stops tracking (<see cref="ResyncReasons.LogWriteFailed"/>, whole disk) and the
/// disk keeps working; <see cref="RotateAsync"/> or <see cref="BeginResyncAsync"/> starts a new log. A failed disk write
/// after the log took it is recorded as <see cref="ResyncReasons.DiskWriteFailed"/> for its range, then thrown. A
/// failure that cannot be recorded durably fails the write instead; a large write logged directly may be on the disk by
/// then (its exception says so), and the whole disk is then marked for resync.
/// </para>
/// </remarks>
public sealed partial class TrackedDisk : IVirtualDisk
{
    private const int SectorSize = 512;
    private const string SpareName = "next.hrl.zeros";
    private const string OwnerLockName = "tracking.lock";
    private static readonly TimeSpan OwnerLockWait = TimeSpan.FromSeconds(2);
    private const int MaxInFlight = 1024;
    private const int MaxArmAhead = 16;

    /// <summary>
    /// Sector-aligned writes of at least this many bytes go into the log straight from the caller's buffer, written
    /// outside the gate (beside an asynchronous disk write; just before a synchronous one); smaller ones are copied into
    /// the log's batch buffer, which goes out in one large write. The caller's buffer must not change until the write
    /// returns: its log checksum is computed before the data is written.
    /// </summary>
    private const int DirectLogMinimum = 64 << 10;

    /// <summary>
    /// Writes larger than this are appended (copied), not logged directly: a direct entry's metadata can reach the file
    /// before its data, and only below 16 MiB does the entry's byte-sum checksum (MS-HRL) never come out as 0 ("not
    /// recorded") for data that is not all zeros, so recovery always tells unwritten data from the entry's.
    /// </summary>
    private const int DirectLogMaximum = 16 << 20;

    private readonly IVirtualDisk _disk;
    private readonly bool _leaveOpen;
    private readonly TrackedDiskOptions _options;
    private readonly string _statePath;
    private readonly int _regionShift;
    private readonly long _resyncThresholdBytes;

    // Guards everything below, unless a comment says otherwise. Never held while waiting for _stateLock or _control.
    private readonly Lock _gate = new();

    // Serialises state persists (taken before _gate, never after).
    private readonly Lock _stateLock = new();

    // One rotation, release, resync or close at a time.
    private readonly SemaphoreSlim _control = new(1, 1);

    private ChangeTrackingState _state;
    private HrlWriter? _writer;
    private long _activeSequence;
    private Guid _activeUniqueId;
    private long _epoch;
    private ulong[] _epochRegions;
    private long _epochDataBytes;
    private ulong[] _armed;
    private readonly ulong[] _armRequests;
    private readonly InFlightWrite[] _inFlight = new InFlightWrite[MaxInFlight];
    private int _inFlightCount;
    private long _nextWriteId;
    private TaskCompletionSource? _changed;

    // Triggers noticed under _gate, folded into the state by the next persist; writes persist them before proceeding.
    private ResyncReasons _pendingReasons;
    private bool _pendingWholeDisk;
    private readonly List<DiskExtent> _pendingRanges = [];
    private bool _persistNeeded;
    private bool _captureDataWriteGuid;

    // Group commit.
    private bool _flushRunning;
    private long _flushesStarted;
    private long _flushesCompleted;
    private TaskCompletionSource? _flushDone;
    private readonly LogFsync _logFsync = new();

    private bool _closed;
    private bool _disposed;
    private LockFile? _owner;

    private TrackedDisk(IVirtualDisk disk, string directory, TrackedDiskOptions options, bool leaveOpen, ChangeTrackingState state, HrlWriter writer, TrackingOpenReport report)
    {
        _disk = disk;
        _leaveOpen = leaveOpen;
        _options = options;
        LogDirectory = directory;
        _statePath = Path.Combine(directory, ChangeTrackingState.FileName);
        _state = state;
        _regionShift = state.RegionShift;
        _resyncThresholdBytes = (long)Math.Min(long.MaxValue, options.ResyncThreshold * disk.VirtualSize);
        _writer = writer;
        TrackedLogEntry active = state.Logs[^1];
        _activeSequence = active.Sequence;
        _activeUniqueId = active.UniqueId;
        _epochRegions = new ulong[state.Armed.Length];
        _armed = (ulong[])state.Armed.Clone();
        _armRequests = new ulong[state.Armed.Length];
        _captureDataWriteGuid = disk.DataWriteGuid is not null;
        OpenReport = report;
    }

    /// <summary>The disk whose writes are tracked.</summary>
    public IVirtualDisk InnerDisk => _disk;

    /// <summary>Full path of the folder holding the logs and the state file.</summary>
    public string LogDirectory { get; }

    /// <summary>What opening found: a new chain, or a recovery after a crash.</summary>
    public TrackingOpenReport OpenReport { get; }

    /// <summary>Sequence number of the active log.</summary>
    public long ActiveSequenceNumber
    {
        get
        {
            lock (_gate)
            {
                return _activeSequence;
            }
        }
    }

    /// <summary>The active log's <c>UniqueId</c>.</summary>
    public Guid ActiveUniqueId
    {
        get
        {
            lock (_gate)
            {
                return _activeUniqueId;
            }
        }
    }

    /// <summary>False once a log write failed and until a new log is started (<see cref="RotateAsync"/>, <see cref="BeginResyncAsync"/>).</summary>
    public bool IsTracking
    {
        get
        {
            lock (_gate)
            {
                return _writer is not null;
            }
        }
    }

    /// <summary>The sealed logs not yet released, in chain order (oldest first).</summary>
    public IReadOnlyList<SealedLog> PendingLogs
    {
        get
        {
            lock (_gate)
            {
                return [.. _state.Logs.Where(l => l.Status == TrackedLogStatus.Sealed).Select(ToSealedLog)];
            }
        }
    }

    /// <summary>
    /// Whether, why and where a resync is required: the reasons recorded (durably) so far, plus
    /// <see cref="ResyncReasons.PendingLogsTooLarge"/> while the pending and active logs are past the threshold.
    /// </summary>
    public ResyncRequirement Resync
    {
        get
        {
            lock (_gate)
            {
                return BuildRequirementLocked();
            }
        }
    }

    /// <inheritdoc />
    public string? FilePath => _disk.FilePath;

    /// <inheritdoc />
    public DiskFormat Format => _disk.Format;

    /// <inheritdoc />
    public DiskType DiskType => _disk.DiskType;

    /// <inheritdoc />
    public long VirtualSize => _disk.VirtualSize;

    /// <inheritdoc />
    public int LogicalSectorSize => _disk.LogicalSectorSize;

    /// <inheritdoc />
    public int PhysicalSectorSize => _disk.PhysicalSectorSize;

    /// <inheritdoc />
    public int BlockSize => _disk.BlockSize;

    /// <inheritdoc />
    public bool IsReadOnly => false;

    /// <inheritdoc />
    public IVirtualDisk? Parent => _disk.Parent;

    /// <inheritdoc />
    public Guid? DataWriteGuid => _disk.DataWriteGuid;

    /// <inheritdoc />
    public long AllocatedBytes => _disk.AllocatedBytes;

    /// <summary>Time writers were held by the last rotation's swap (for measurement).</summary>
    internal TimeSpan LastSwapDuration { get; private set; }

    /// <summary>Test seam: runs where the log append does, so a test can make the log fail.</summary>
    internal Action? BeforeLogAppend { get; set; }

    /// <summary>
    /// Test seam: drops everything as a killed process would (buffered log data and the writer's handle, the disk's
    /// handle) without sealing, flushing or recording anything.
    /// </summary>
    internal void Abandon()
    {
        lock (_gate)
        {
            _closed = true;
            _writer?.Dispose();
            _writer = null;
        }

        _disposed = true;
        _disk.Dispose();

        // A dead process's lock is gone too.
        _owner?.Dispose();
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _disk.Read(offset, destination);
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _disk.ReadAsync(offset, destination, cancellationToken);
    }

    /// <inheritdoc />
    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => _disk.GetAllocatedExtents(offset, length);

    /// <inheritdoc />
    public bool IsKnownZero(long offset, long length) => _disk.IsKnownZero(offset, length);

    /// <summary>
    /// Closes cleanly: waits for writes in flight, seals the active log (an empty one is dropped instead), flushes the
    /// disk, records the chain as closed cleanly, and disposes the inner disk unless it was opened with leaveOpen.
    /// </summary>
    /// <exception cref="IOException">Sealing or recording failed; the next <see cref="Open"/> recovers as after a crash.</exception>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _disposed = true;
            _control.Dispose();
            _logFsync.Dispose();
            if (!_leaveOpen)
            {
                await _disk.DisposeAsync().ConfigureAwait(false);
                RecordClosedDiskStamp();
            }

            _owner?.Dispose();
        }
    }

    /// <summary>
    /// After a clean close, records the disk file's stamp as the disk was left, so the next open can tell whether anything
    /// wrote it while tracking was off. Taken once the disk is closed (a format may update its headers on close); a disk
    /// left open for its owner gets none, since the owner's close may still change it.
    /// </summary>
    private void RecordClosedDiskStamp()
    {
        if (_disk.FilePath is not { } path || !_state.ClosedCleanly || !File.Exists(path))
        {
            return;
        }

        ChangeTrackingState state = _state.Clone();
        state.ClosedDiskStamp = FileStamp.Of(path);
        DurableFile.WriteAllBytes(_statePath, state.Encode());
        _state = state;
    }

    internal static string SealedName(long sequence) => sequence.ToString("D12", CultureInfo.InvariantCulture) + ".hrl";

    private static string ActiveName(long sequence) => SealedName(sequence) + ".active";

    private string SealedPath(long sequence) => Path.Combine(LogDirectory, SealedName(sequence));

    private string ActivePath(long sequence) => Path.Combine(LogDirectory, ActiveName(sequence));

    private SealedLog ToSealedLog(TrackedLogEntry entry) => new(entry, SealedPath(entry.Sequence));

    private ResyncRequirement BuildRequirementLocked()
    {
        ResyncReasons reasons = _state.Reasons | _pendingReasons;
        bool wholeDisk = _state.WholeDisk || _pendingWholeDisk;
        long pending = _writer?.Length ?? 0;
        foreach (TrackedLogEntry log in _state.Logs)
        {
            pending += log.Length;
        }

        if (pending >= _resyncThresholdBytes)
        {
            reasons |= ResyncReasons.PendingLogsTooLarge;
            wholeDisk = true;
        }

        if (reasons == ResyncReasons.None)
        {
            return ResyncRequirement.None;
        }

        IReadOnlyList<DiskExtent> ranges = wholeDisk ? [] : ChangeTrackingState.Merge(_state.Ranges.Concat(_pendingRanges));
        return new ResyncRequirement(reasons, wholeDisk, ranges, _state.Generation);
    }

    /// <summary>A write between its log append and the end of its disk write.</summary>
    private struct InFlightWrite
    {
        public long Id;
        public long Start;
        public long End;
        public long Epoch;
    }
}
