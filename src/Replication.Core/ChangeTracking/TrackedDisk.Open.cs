using System.Globalization;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

public sealed partial class TrackedDisk
{
    /// <summary>
    /// Starts or resumes tracking <paramref name="disk"/> with its logs in <paramref name="logDirectory"/>. A folder without
    /// a state file starts a new chain. Otherwise the chain is recovered: logs a crash left open are sealed (torn tails cut),
    /// a rotation or release a crash interrupted is completed, the sealed logs are checked against the state, the disk's
    /// DataWriteGuid is compared with the one recorded, the resync reasons found are recorded, and a new active log starts.
    /// </summary>
    /// <param name="disk">The disk to track; writable. Disposed with the tracked disk unless <paramref name="leaveOpen"/>.</param>
    /// <param name="logDirectory">The folder for the logs and the state file; created when missing. One disk per folder.</param>
    /// <param name="options">Log layout, resync threshold, preallocation; <see cref="TrackedDiskOptions.Default"/> when null.</param>
    /// <param name="leaveOpen">True to leave <paramref name="disk"/> open when the tracked disk is disposed.</param>
    /// <param name="timeProvider">The clock for log time stamps; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="NotSupportedException">The disk is read-only.</exception>
    /// <exception cref="ArgumentException">The folder's state tracks a disk of another size, or the options are invalid.</exception>
    /// <exception cref="InvalidRecordException">The state file is corrupt, truncated, of another version or inconsistent.</exception>
    /// <exception cref="ReplicationException">The folder holds logs but no state file (<see cref="ReplicationErrorCode.ChainBroken"/>).</exception>
    public static TrackedDisk Open(IVirtualDisk disk, string logDirectory, TrackedDiskOptions? options = null, bool leaveOpen = false, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentException.ThrowIfNullOrEmpty(logDirectory);
        options ??= TrackedDiskOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        options = options with { Clock = timeProvider ?? TimeProvider.System };
        string directory = Path.GetFullPath(logDirectory);
        Directory.CreateDirectory(directory);

        LockFile owner = LockOwner(
            directory,
            holder => $"{directory}: {holder} is tracking this disk's writes (it holds {OwnerLockName}); stop it first, or do this through it.");
        try
        {
            TrackedDisk tracked = OpenLocked(disk, directory, options, leaveOpen);
            tracked._owner = owner;
            return tracked;
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a tracked disk's state from its log folder without opening the disk or taking its lock; null when the folder
    /// holds no state. Safe while another process tracks the disk (the state file is replaced atomically).
    /// </summary>
    /// <exception cref="InvalidLogFormatException">The state file is corrupt, truncated or of another version.</exception>
    public static TrackingSnapshot? Inspect(string logDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(logDirectory);
        string directory = Path.GetFullPath(logDirectory);
        string path = Path.Combine(directory, ChangeTrackingState.FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        ChangeTrackingState state = ChangeTrackingState.Read(path);
        var sealedLogs = state.Logs
            .Where(l => l.Status == TrackedLogStatus.Sealed)
            .Select(l => new SealedLog(l, Path.Combine(directory, SealedName(l.Sequence))))
            .ToList();
        long active = state.Logs.Where(l => l.Status != TrackedLogStatus.Sealed).Sum(l => l.Length);
        return new TrackingSnapshot(sealedLogs, active, state.Reasons, state.ClosedCleanly);
    }

    /// <summary>
    /// Takes the owner lock of a tracking folder, held by whoever may write the tracked disk or its chain.
    /// </summary>
    /// <param name="directory">The tracking folder (full path).</param>
    /// <param name="conflict">The message when another process holds the lock, given how to name that process.</param>
    /// <exception cref="ReplicationException">Another process holds the lock (<see cref="ReplicationErrorCode.Conflict"/>).</exception>
    internal static LockFile LockOwner(string directory, Func<string, string> conflict)
    {
        // One tracker per folder, across processes: a second one would fork the chain. The kernel drops the lock when
        // the process that holds it dies.
        LockFile owner = LockFile.Open(Path.Combine(directory, OwnerLockName), out _);
        // A process that has just died can hold it a little longer than its exit (the kernel may release a closed
        // file's lock after the parent has reaped the process): wait a bounded time before calling it taken.
        if (!owner.TryLockAsync(exclusive: true, OwnerLockWait, CancellationToken.None).AsTask().GetAwaiter().GetResult())
        {
            string holder = owner.HolderProcessId() is { } pid ? $"process {pid}" : "another process";
            owner.Dispose();
            throw new ReplicationException(ReplicationErrorCode.Conflict, true, conflict(holder));
        }

        return owner;
    }

    private static TrackedDisk OpenLocked(IVirtualDisk disk, string logDirectory, TrackedDiskOptions options, bool leaveOpen)
    {
        ArgumentException.ThrowIfNullOrEmpty(logDirectory);
        if (disk.IsReadOnly)
        {
            throw new NotSupportedException($"{disk.FilePath ?? "disk"}: a tracked disk must be writable.");
        }

        if (disk.VirtualSize <= 0 || disk.VirtualSize % SectorSize != 0)
        {
            throw new ArgumentException($"{disk.FilePath ?? "disk"}: a tracked disk's size must be a positive multiple of 512 bytes.", nameof(disk));
        }

        string directory = Path.GetFullPath(logDirectory);
        Directory.CreateDirectory(directory);
        string statePath = Path.Combine(directory, ChangeTrackingState.FileName);
        Guid dataWriteGuid = disk.DataWriteGuid ?? Guid.Empty;
        ResyncReasons reasons = ResyncReasons.None;
        bool wholeDisk = false;
        var ranges = new List<DiskExtent>();
        ChangeTrackingState state;
        bool newChain = !File.Exists(statePath);
        if (newChain)
        {
            if (Directory.EnumerateFiles(directory, "*.hrl*").Any(f => Path.GetFileName(f) != SpareName))
            {
                throw new ReplicationException(
                    ReplicationErrorCode.ChainBroken,
                    false,
                    $"{directory}: the folder holds logs but no {ChangeTrackingState.FileName}; the chain cannot be trusted. Move the logs away to start a new chain (the replica then needs a full resync).");
            }

            int shift = options.RegionShiftFor(disk.VirtualSize);
            state = new ChangeTrackingState
            {
                VirtualSize = disk.VirtualSize,
                RegionShift = shift,
                Armed = new ulong[ChangeTrackingState.WordsFor(disk.VirtualSize, shift)],
                LastDataWriteGuid = dataWriteGuid,
                ClosedCleanly = true,
            };
        }
        else
        {
            state = ChangeTrackingState.Read(statePath);
            if (state.VirtualSize != disk.VirtualSize)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"{directory}: the chain tracks a disk of {state.VirtualSize} bytes, but {disk.FilePath ?? "this disk"} has {disk.VirtualSize}."),
                    nameof(disk));
            }

            if (dataWriteGuid != state.LastDataWriteGuid)
            {
                // Changed while tracking was off (or, after a crash, renewed by a first write whose record did not
                // become durable): nothing says where, so the whole disk.
                reasons |= ResyncReasons.DataWriteGuidChanged;
                wholeDisk = true;
            }
        }

        if (state.ClosedDiskStamp != UInt128.Zero && disk.FilePath is { } diskPath && File.Exists(diskPath) && FileStamp.Of(diskPath) != state.ClosedDiskStamp)
        {
            // Written by something other than a tracker since the last one closed it: nothing says where.
            reasons |= ResyncReasons.DiskChangedOffline;
            wholeDisk = true;
        }

        bool clean = state.Logs.TrueForAll(l => l.Status == TrackedLogStatus.Sealed);
        if (!clean)
        {
            reasons |= ResyncReasons.UncleanShutdown;
            ranges.AddRange(ChangeTrackingState.ArmedRanges(state.Armed, state.RegionShift, state.VirtualSize));
        }

        var recoveredLogs = new List<SealedLog>();
        long torn = 0;
        long recoveredRecords = 0;
        for (int i = 0; i < state.Logs.Count; i++)
        {
            TrackedLogEntry entry = state.Logs[i];
            if (entry.Status == TrackedLogStatus.Sealed)
            {
                if (!CheckSealed(directory, entry, options.VerifyPendingLogsOnOpen))
                {
                    reasons |= ResyncReasons.ChainBroken;
                    wholeDisk = true;
                }

                continue;
            }

            TrackedLogEntry? finished = FinishLog(directory, options.Clock, entry, out HrlRecoveryResult recovered);
            if (finished is not TrackedLogEntry sealedEntry)
            {
                // The log is gone or unreadable: the chain has a gap from here on.
                reasons |= ResyncReasons.ChainBroken;
                wholeDisk = true;
                state.Logs.RemoveRange(i, state.Logs.Count - i);
                break;
            }

            state.Logs[i] = sealedEntry;
            torn += recovered.TornBytes;
            recoveredRecords += sealedEntry.RecordCount;
            recoveredLogs.Add(new SealedLog(sealedEntry, Path.Combine(directory, SealedName(sealedEntry.Sequence))));
        }

        int removed = RemoveLeftovers(directory, state, ref reasons, ref wholeDisk);
        if (options.LogPreallocation == 0)
        {
            File.Delete(Path.Combine(directory, SpareName));
        }

        long sequence = state.NextSequence;
        var identity = new HrlLogIdentity(Guid.NewGuid(), state.ChainTail, dataWriteGuid);
        string activePath = Path.Combine(directory, ActiveName(sequence));
        HrlWriter writer = CreateLog(directory, activePath, identity, options);
        try
        {
            state.Logs.Add(new TrackedLogEntry(sequence, TrackedLogStatus.Active, identity.UniqueId, identity.PreviousUniqueId, 0, 0, 0, 0));
            state.NextSequence = sequence + 1;
            state.ClosedCleanly = false;
            state.ClosedDiskStamp = UInt128.Zero;
            state.Armed = new ulong[state.Armed.Length];
            state.LastDataWriteGuid = dataWriteGuid;
            if (reasons != ResyncReasons.None)
            {
                state.Reasons |= reasons;
                if (wholeDisk)
                {
                    state.WholeDisk = true;
                    state.Ranges.Clear();
                }

                state.AddRanges(ranges);
                state.Generation++;
            }

            state.Write(statePath);
        }
        catch (Exception)
        {
            writer.Dispose();
            File.Delete(activePath);
            throw;
        }

        var report = new TrackingOpenReport
        {
            StartedNewChain = newChain,
            WasClosedCleanly = clean,
            RecoveredLogs = recoveredLogs,
            TornBytesCut = torn,
            RecoveredRecords = recoveredRecords,
            RemovedFiles = removed,
        };
        return new TrackedDisk(disk, directory, options, leaveOpen, state, writer, report);
    }

    /// <summary>
    /// Seals a log the state lists as active or being sealed, whatever step it was left at: open (recovered: torn tail
    /// cut), sealed but not renamed, or renamed without its sidecar. Idempotent.
    /// </summary>
    /// <returns>The sealed entry; null when the file is gone, unreadable, or another log.</returns>
    private static TrackedLogEntry? FinishLog(string directory, TimeProvider timeProvider, TrackedLogEntry entry, out HrlRecoveryResult recovered)
    {
        string active = Path.Combine(directory, ActiveName(entry.Sequence));
        string sealedPath = Path.Combine(directory, SealedName(entry.Sequence));
        recovered = default;
        try
        {
            if (File.Exists(active))
            {
                HrlFileHeader header = HrlWriter.SealRecovered(active, timeProvider, out recovered);
                if (header.UniqueId != entry.UniqueId || header.PreviousUniqueId != entry.PreviousUniqueId)
                {
                    return null;
                }

                DurableFile.Move(active, sealedPath, overwrite: true);
            }
            else if (!File.Exists(sealedPath))
            {
                return null;
            }

            long records = 0;
            long dataBytes = 0;
            using (HrlReader reader = HrlReader.Open(sealedPath))
            {
                if (reader.Header.UniqueId != entry.UniqueId || reader.Header.PreviousUniqueId != entry.PreviousUniqueId)
                {
                    return null;
                }

                foreach (HrlRecord record in reader.ReadRecords())
                {
                    records++;
                    dataBytes += record.Length;
                }
            }

            return SealedEntry(entry, sealedPath, records, dataBytes);
        }
        catch (InvalidLogFormatException)
        {
            return null;
        }
    }

    /// <summary>A log's entry once it is sealed under its final name: its sidecar written, its length and hash recorded.</summary>
    private static TrackedLogEntry SealedEntry(TrackedLogEntry entry, string sealedPath, long records, long dataBytes)
    {
        HrlSidecar sidecar = HrlIntegrity.WriteSidecar(sealedPath);
        return entry with
        {
            Status = TrackedLogStatus.Sealed,
            Length = sidecar.LogLength,
            Hash = sidecar.Hash,
            RecordCount = records,
            DataBytes = dataBytes,
        };
    }

    /// <summary>
    /// Checks a sealed log against its state entry: present, same length, same identity and link; rewrites a missing or
    /// damaged sidecar from the state (which is checksummed); with <paramref name="hash"/>, hashes the whole file too.
    /// </summary>
    private static bool CheckSealed(string directory, TrackedLogEntry entry, bool hash)
    {
        string path = Path.Combine(directory, SealedName(entry.Sequence));
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length != entry.Length)
            {
                return false;
            }

            using (HrlReader reader = HrlReader.Open(path))
            {
                if (!reader.IsClosedCleanly || reader.Header.UniqueId != entry.UniqueId || reader.Header.PreviousUniqueId != entry.PreviousUniqueId)
                {
                    return false;
                }
            }

            var expected = new HrlSidecar(entry.Length, entry.UniqueId, entry.Hash);
            string sidecarPath = HrlIntegrity.GetSidecarPath(path);
            HrlSidecar? existing = null;
            if (File.Exists(sidecarPath))
            {
                try
                {
                    existing = HrlIntegrity.ReadSidecar(path);
                }
                catch (InvalidRecordException)
                {
                    existing = null;
                }
            }

            if (existing != expected)
            {
                DurableFile.WriteAllBytes(sidecarPath, expected.Encode());
            }

            return !hash || HrlIntegrity.ComputeHash(path) == entry.Hash;
        }
        catch (InvalidLogFormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Removes what interrupted operations leave behind: temporary files, logs (and sidecars) already released, and
    /// empty active logs a crash left unlisted (created before the state named them, or dropped by a close). A listed
    /// sequence is never touched; an unlisted log that holds records is kept and breaks the chain.
    /// </summary>
    private static int RemoveLeftovers(string directory, ChangeTrackingState state, ref ResyncReasons reasons, ref bool wholeDisk)
    {
        var listed = new HashSet<long>(state.Logs.Select(l => l.Sequence));
        int removed = 0;
        foreach (string file in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(file);
            if (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal))
            {
                File.Delete(file);
                removed++;
                continue;
            }

            if (name.Length < 16 || !long.TryParse(name.AsSpan(0, 12), NumberStyles.None, CultureInfo.InvariantCulture, out long sequence) ||
                !name.AsSpan(12).StartsWith(".hrl", StringComparison.Ordinal) || listed.Contains(sequence))
            {
                continue;
            }

            string suffix = name[16..];
            if (suffix == ".active")
            {
                long records;
                try
                {
                    using HrlReader reader = HrlReader.Open(file);
                    records = reader.Recover().RecordCount;
                }
                catch (InvalidLogFormatException)
                {
                    records = 0;
                }

                if (records > 0)
                {
                    reasons |= ResyncReasons.ChainBroken;
                    wholeDisk = true;
                    continue;
                }

                File.Delete(file);
                removed++;
            }
            else if ((suffix.Length == 0 || suffix == HrlIntegrity.SidecarExtension) && sequence < state.NextSequence)
            {
                File.Delete(file);
                removed++;
            }
        }

        return removed;
    }
}
