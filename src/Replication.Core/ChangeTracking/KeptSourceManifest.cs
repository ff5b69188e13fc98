using System.Globalization;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// A source disk's block manifest kept in its change-tracking folder (<c>source.manifest</c>) with a mark
/// (<c>source.manifest.mark</c>) saying where in the tracker's history it was recorded: the disk file's stamp, the
/// tracker's next log sequence, chain tail and state generation. A resync of the tracked disk then rehashes only the
/// coarse blocks that the logs written since the mark touched, instead of the whole disk.
/// </summary>
/// <remarks>
/// <para>
/// The kept manifest is trusted only when the tracker's state proves it saw every write since the mark: the tracker
/// closed cleanly and the disk file's stamp is still the one it recorded at that close (so nothing wrote the file since),
/// no resync reason is recorded and the state's generation is the mark's (so no reason was recorded and cleared in
/// between: every open that found the file changed, every failed log or disk write and every unclean stop bumps it), and
/// every log from the mark's sequence to the newest is still there, sealed, and chained to the mark's chain tail (none
/// released, none missing). Anything else is reported as the rejection of <see cref="PlanRefresh"/> and the disk is hashed in full.
/// </para>
/// <para>
/// The tracker's owner lock is held from <see cref="Open"/> to <see cref="Dispose"/>: no tracker can write the disk
/// while the manifest is refreshed and recorded. A new manifest is recorded only when the state is clean and the file's
/// stamp still equals the tracker's closing stamp at the moment of recording.
/// </para>
/// </remarks>
internal sealed class KeptSourceManifest : IDisposable
{
    public const string ManifestName = "source.manifest";
    public const string MarkName = "source.manifest.mark";
    private const string StructureName = "kept source manifest mark";
    private const int PayloadLength = 8 + 4 + 4 + 8 + 16 + 8 + 16 + 16;

    private static readonly RecordFormat Format = new(StructureName, "RPLKEPTM"u8, version: 1, maxPayloadLength: PayloadLength, fixedPayloadLength: PayloadLength);

    private readonly IVirtualDisk _source;
    private readonly string _directory;
    private LockFile? _owner;

    private KeptSourceManifest(IVirtualDisk source, string directory, LockFile owner)
    {
        _source = source;
        _directory = directory;
        _owner = owner;
    }

    /// <summary>Where the kept manifest is stored.</summary>
    public string ManifestPath => Path.Combine(_directory, ManifestName);

    private string MarkPath => Path.Combine(_directory, MarkName);

    private string StatePath => Path.Combine(_directory, ChangeTrackingState.FileName);

    /// <summary>
    /// Takes the tracker's owner lock of <paramref name="trackingDirectory"/> for the source disk.
    /// </summary>
    /// <exception cref="ArgumentException">The source has no file, or has a parent (a parent's writes are not tracked).</exception>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.Conflict"/> when a tracker is writing the disk now.</exception>
    public static KeptSourceManifest Open(string trackingDirectory, IVirtualDisk source)
    {
        ArgumentException.ThrowIfNullOrEmpty(trackingDirectory);
        if (source.FilePath is null || source.Parent is not null)
        {
            throw new ArgumentException(
                $"{source.FilePath ?? "the source"}: a kept source manifest needs a disk file without a parent (a parent's changes are not tracked).",
                nameof(source));
        }

        string directory = Path.GetFullPath(trackingDirectory);
        if (!Directory.Exists(directory))
        {
            throw new ArgumentException($"{directory}: the change-tracking folder does not exist.", nameof(trackingDirectory));
        }

        LockFile owner = TrackedDisk.LockOwner(
            directory,
            holder => $"{directory}: {holder} is tracking the source's writes (it holds tracking.lock): the source is being written; stop it first.");
        return new KeptSourceManifest(source, directory, owner);
    }

    /// <summary>
    /// Decides whether the kept manifest can be refreshed for the disk as it is now: null (with the reason) when it cannot,
    /// otherwise one flag per coarse block, set for each block a write since the mark touched.
    /// </summary>
    public bool[]? PlanRefresh(ManifestOptions options, out string? rejection)
    {
        if (!File.Exists(MarkPath) || !File.Exists(ManifestPath))
        {
            rejection = $"{_directory}: no source manifest is kept there yet.";
            return null;
        }

        Mark mark;
        ChangeTrackingState state;
        try
        {
            mark = Mark.Read(MarkPath);
            state = ChangeTrackingState.Read(StatePath);
        }
        catch (InvalidRecordException ex)
        {
            rejection = ex.Message;
            return null;
        }

        rejection = CheckClean(state)
            ?? (state.Generation != mark.Generation
                ? $"{StatePath}: resync reasons were recorded since the manifest was kept (generation {state.Generation}, kept at {mark.Generation})."
                : null)
            ?? (mark.VirtualSize != _source.VirtualSize || mark.CoarseBlockSize != options.CoarseBlockSize || mark.FineBlockSize != options.FineBlockSize
                ? $"{MarkPath}: the kept manifest is of another size or block sizes."
                : null);
        if (rejection is not null)
        {
            return null;
        }

        // The logs written since the mark, in chain order: each names the one before it, the first the mark's tail. A
        // log dropped because nothing was written to it leaves a gap in the sequence numbers but not in the chain; a
        // released log breaks the link.
        List<string> logs = [];
        Guid previous = mark.ChainTail;
        foreach (TrackedLogEntry entry in state.Logs.Where(l => l.Sequence >= mark.NextSequence).OrderBy(l => l.Sequence))
        {
            if (entry.Status != TrackedLogStatus.Sealed || entry.PreviousUniqueId != previous)
            {
                rejection = string.Create(
                    CultureInfo.InvariantCulture,
                    $"{_directory}: log {entry.Sequence}, written since the manifest was kept, is not sealed or does not follow the log before it (one was released or is missing).");
                return null;
            }

            previous = entry.UniqueId;
            logs.Add(Path.Combine(_directory, TrackedDisk.SealedName(entry.Sequence)));
        }

        if (previous != state.ChainTail || (logs.Count == 0 && FileStamp.Of(_source.FilePath!) != mark.DiskStamp))
        {
            rejection = $"{_directory}: the chain's tail is not the one the kept manifest follows.";
            return null;
        }

        try
        {
            using BlockManifest kept = BlockManifest.Open(ManifestPath);
            if (kept.TableChecksum != mark.TableChecksum)
            {
                rejection = $"{ManifestPath}: its block table is not the one the mark records.";
                return null;
            }

            kept.EnsureGeometry(_source.VirtualSize, options.CoarseBlockSize, options.FineBlockSize);
        }
        catch (InvalidManifestException ex)
        {
            rejection = ex.Message;
            return null;
        }

        bool[] stale = new bool[(int)ManifestHeader.CeilDiv(_source.VirtualSize, options.CoarseBlockSize)];
        try
        {
            foreach (string log in logs)
            {
                using HrlReader reader = HrlReader.Open(log);
                foreach (HrlRecord record in reader.ReadRecords())
                {
                    if (record.Length <= 0 || record.DiskOffset < 0 || record.DiskOffset > _source.VirtualSize - record.Length)
                    {
                        rejection = string.Create(CultureInfo.InvariantCulture, $"{log}: record {record.Index} is outside the disk.");
                        return null;
                    }

                    long first = record.DiskOffset / options.CoarseBlockSize;
                    long last = (record.DiskOffset + record.Length - 1) / options.CoarseBlockSize;
                    stale.AsSpan((int)first, (int)(last - first + 1)).Fill(true);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidLogFormatException or ReplicationException or IOException)
        {
            rejection = ex.Message;
            return null;
        }

        return stale;
    }

    /// <summary>
    /// Keeps <paramref name="manifest"/> (which describes the source as it is now) with a mark at the tracker's current
    /// position, when the tracker's state is clean and the file is as the tracker left it; otherwise removes any kept one.
    /// </summary>
    /// <returns>Null when kept; otherwise why not.</returns>
    public string? Record(BlockManifest manifest)
    {
        DurableFile.Delete(MarkPath);
        ChangeTrackingState state;
        try
        {
            state = ChangeTrackingState.Read(StatePath);
        }
        catch (InvalidRecordException ex)
        {
            return ex.Message;
        }

        if (CheckClean(state) is { } reason)
        {
            return reason;
        }

        string temporary = ManifestPath + ".tmp";
        File.Copy(manifest.FilePath, temporary, overwrite: true);
        using (Microsoft.Win32.SafeHandles.SafeFileHandle copy = File.OpenHandle(temporary, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.FlushToDisk(copy);
        }

        DurableFile.Replace(temporary, ManifestPath);
        new Mark(_source.VirtualSize, manifest.CoarseBlockSize, manifest.FineBlockSize, state.NextSequence, state.ChainTail, state.Generation, state.ClosedDiskStamp, manifest.TableChecksum)
            .Write(MarkPath);
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _owner?.Dispose();
        _owner = null;
    }

    /// <summary>Why the state does not prove that the tracker saw every write to the disk file as it is now; null when it does.</summary>
    private string? CheckClean(ChangeTrackingState state)
    {
        if (state.VirtualSize != _source.VirtualSize)
        {
            return $"{StatePath}: the tracker's disk is of another size.";
        }

        if (!state.ClosedCleanly || state.ClosedDiskStamp == UInt128.Zero)
        {
            return $"{StatePath}: the tracker did not close cleanly.";
        }

        if (FileStamp.Of(_source.FilePath!) != state.ClosedDiskStamp)
        {
            return $"{_source.FilePath}: the disk file changed since the tracker closed it (written outside the tracker).";
        }

        if (state.Reasons != ResyncReasons.None || state.WholeDisk || state.Ranges.Count > 0)
        {
            return $"{StatePath}: the tracker records a resync requirement ({state.Reasons}).";
        }

        return null;
    }

    /// <summary>Where in the tracker's history the kept manifest was recorded (one fixed-size record).</summary>
    private sealed record Mark(
        long VirtualSize,
        int CoarseBlockSize,
        int FineBlockSize,
        long NextSequence,
        Guid ChainTail,
        long Generation,
        UInt128 DiskStamp,
        UInt128 TableChecksum)
    {
        public void Write(string path) => Format.Write(path, PayloadLength, (ref RecordWriter w) =>
        {
            w.Int64(VirtualSize);
            w.Int32(CoarseBlockSize);
            w.Int32(FineBlockSize);
            w.Int64(NextSequence);
            w.Guid(ChainTail);
            w.Int64(Generation);
            w.UInt128(DiskStamp);
            w.UInt128(TableChecksum);
        });

        public static Mark Read(string path)
        {
            byte[] bytes = Format.ReadFile(path) ?? throw Format.Fail(path, 0, "Length", "the file does not exist");
            RecordReader r = Format.Decode(bytes, path);
            var mark = new Mark(
                r.Int64("VirtualSize"),
                r.Int32("CoarseBlockSize"),
                r.Int32("FineBlockSize"),
                r.Int64("NextSequence"),
                r.Guid("ChainTail"),
                r.Int64("Generation"),
                r.UInt128("DiskStamp"),
                r.UInt128("TableChecksum"));
            r.End();
            return mark;
        }
    }
}
