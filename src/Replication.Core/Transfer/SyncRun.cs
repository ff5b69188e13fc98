using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// One seed or resync of <see cref="DiskSynchronizer"/>: its state, counters, working files and progress. The copy itself
/// runs on the <see cref="CopyEngine"/>; this class decides what to copy, keeps the one <see cref="CopyCheckpoint"/>, and
/// keeps the manifests.
/// </summary>
internal sealed partial class SyncRun
{
    private readonly IVirtualDisk _source;
    private readonly IDiskSink _destination;
    private readonly IManifestStore? _manifests;
    private readonly SyncOptions _options;
    private readonly IProgress<SyncProgress>? _progress;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly SyncResult _result;
    private readonly List<string> _temporaryFiles = [];
    private readonly Lock _reportLock = new();
    private SyncPhase _phase;
    private long _hashedBefore;
    private long _hashedNow;
    private long _hashWorkTotal;
    private long _hashWorkDone;
    private long _compared;
    private long _toCopy;
    private long _durableHashed;
    private long _durableSent;
    private CopySnapshot _copy;

    public SyncRun(IVirtualDisk source, IDiskSink destination, IManifestStore? manifests, SyncOptions options, IProgress<SyncProgress>? progress, TimeProvider time)
    {
        _source = source;
        _destination = destination;
        _manifests = manifests;
        _options = options;
        _progress = progress;
        _time = time;
        _started = time.GetTimestamp();
        _result = new SyncResult { VirtualSize = source.VirtualSize, IsDryRun = options.DryRun };
    }

    private bool DryRun => _options.DryRun;

    private string? CheckpointPath => DryRun ? null : _options.CheckpointPath is { } path ? Path.GetFullPath(path) : null;

    private int Coarse => _options.Manifest.CoarseBlockSize;

    private int Fine => _options.Manifest.FineBlockSize;

    private SyncResult Complete()
    {
        _result.Elapsed = _time.GetElapsedTime(_started);
        SetPhase(SyncPhase.Completed);
        return _result;
    }

    private void DeleteTemporaryFiles()
    {
        foreach (string temporary in _temporaryFiles)
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Deletes the checkpoint and the working files kept beside it.</summary>
    private void DiscardCheckpoint()
    {
        if (CheckpointPath is { } path)
        {
            DurableFile.Delete(path);
            DurableFile.Delete(path + ".source");
            DurableFile.Delete(path + ".target");
        }
    }

    /// <summary>A working file: beside the checkpoint when there is one (kept for a resume), else a temporary file.</summary>
    private string WorkingFile(string suffix, out bool kept)
    {
        if (CheckpointPath is { } checkpoint)
        {
            kept = true;
            return checkpoint + suffix;
        }

        kept = false;
        string path = Path.Combine(_options.WorkDirectory ?? Path.GetTempPath(), $"repl-{Guid.NewGuid():N}{suffix}");
        _temporaryFiles.Add(path);
        return path;
    }

    /// <summary>
    /// Builds a manifest of <paramref name="disk"/> at <paramref name="path"/>; when <paramref name="kept"/>, resuming a
    /// partial one found there (same disk stamp and geometry) and saving partial progress every
    /// <see cref="SyncOptions.CheckpointBytes"/>.
    /// </summary>
    private async Task<ManifestBuildResult> BuildAsync(IDiskSink disk, string path, bool kept, bool fromDestination, CancellationToken cancellationToken, ManifestSeed? seed = null)
    {
        long workBefore = _hashWorkDone;
        _hashWorkTotal += disk.VirtualSize;
        long durableBefore = _durableHashed;
        var relay = new Relay<ManifestProgress>(p =>
        {
            _hashedNow = p.BytesHashed;
            _hashWorkDone = workBefore + p.BytesProcessed;
            Report();
        });
        ManifestBuildResult built = await ManifestBuildRun.BuildAsync(
            disk,
            path,
            kept ? path : path + ".partial",
            _options.Manifest,
            resume: kept,
            kept ? _options.CheckpointBytes : 0,
            relay,
            kept ? (_, hashed) => { _durableHashed = durableBefore + hashed; Report(checkpoint: true); } : null,
            cancellationToken,
            seed).ConfigureAwait(false);
        _hashedBefore += built.BytesHashed;
        _hashedNow = 0;
        _hashWorkDone = workBefore + disk.VirtualSize;
        _result.BytesHashed += built.BytesHashed;
        _result.BytesRead += built.BytesRead;
        if (fromDestination)
        {
            _result.DestinationBytesRead += built.BytesRead;
        }

        if (kept)
        {
            _durableHashed = durableBefore + built.BytesHashed;
            Report(checkpoint: true);
        }

        return built;
    }

    /// <summary>Stores <paramref name="manifest"/> in the destination's store, once the destination is flushed.</summary>
    private async Task StoreManifestAsync(BlockManifest manifest, CancellationToken cancellationToken)
    {
        if (_manifests is null)
        {
            return;
        }

        FileStream content = new(manifest.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1 << 16, FileOptions.Asynchronous);
        await using (content.ConfigureAwait(false))
        {
            await _manifests.WriteManifestAsync(content, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the copy engine over <paramref name="ranges"/> and folds what it did into the result.</summary>
    private async Task<TransferResult> CopyAsync(
        IEnumerable<CopyRange> ranges,
        long total,
        long resumeFrom,
        long doneBefore,
        bool destinationKnownZero,
        bool scanForZeros,
        Func<CopyWatermark, CancellationToken, ValueTask>? saveCheckpoint,
        CancellationToken cancellationToken)
    {
        SetPhase(SyncPhase.Copying);
        var engine = new CopyEngine(new DiskCopySource(_source), _destination, ranges, total, _options.Transfer, _time)
        {
            ResumeFrom = resumeFrom,
            DoneBefore = doneBefore,
            DestinationKnownZero = destinationKnownZero,
            ScanForZeros = scanForZeros,
            CheckpointBytes = _options.CheckpointBytes,
            SaveCheckpoint = saveCheckpoint,
            Progress = snapshot =>
            {
                _copy = snapshot;
                Report(snapshot.IsCheckpoint);
            },
        };
        TransferResult transfer = await engine.RunAsync(cancellationToken).ConfigureAwait(false);
        _result.Transfer = transfer;
        _result.DataBytesSent += transfer.BytesSent;
        _result.BytesWritten += transfer.BytesSent + (destinationKnownZero ? 0 : transfer.BytesZeroed);
        _result.BytesRead += transfer.BytesRead;
        return transfer;
    }

    /// <summary>Identifies a job, so a checkpoint is only resumed by the same source, ranges and destination.</summary>
    private UInt128 JobKey(string kind, IEnumerable<DiskExtent> ranges)
    {
        var hash = new XxHash128();
        void Add(long value)
        {
            Span<byte> number = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(number, value);
            hash.Append(number);
        }

        hash.Append(Encoding.UTF8.GetBytes("repl-" + kind + "/2"));
        hash.Append(Encoding.UTF8.GetBytes(_source.FilePath ?? ""));
        Add(_source.VirtualSize);
        hash.Append(Encoding.UTF8.GetBytes(_destination.Location));
        Add(_destination.VirtualSize);
        foreach (DiskExtent r in ranges)
        {
            Add(r.Offset);
            Add(r.Length);
        }

        return hash.GetCurrentHashAsUInt128();
    }

    private void SetPhase(SyncPhase phase)
    {
        _phase = phase;
        Report();
    }

    private void Report(bool checkpoint = false)
    {
        if (_progress is null)
        {
            return;
        }

        lock (_reportLock)
        {
            TimeSpan elapsed = _time.GetElapsedTime(_started);
            long total = _hashWorkTotal + _toCopy;
            long copied = _copy.BytesDone;
            long done = _hashWorkDone + copied;
            TimeSpan? remaining = _phase == SyncPhase.Completed
                ? TimeSpan.Zero
                : done > 0 && total >= done ? TimeSpan.FromTicks((long)(elapsed.Ticks * ((double)(total - done) / done))) : null;
            _progress.Report(new SyncProgress
            {
                Phase = _phase,
                BytesHashed = _hashedBefore + _hashedNow,
                BytesCompared = _compared,
                BytesDiffering = _result.BytesDiffering,
                BytesToCopy = _toCopy,
                BytesCopied = copied,
                BytesSent = _copy.BytesSent,
                BytesZeroed = _copy.BytesZeroed,
                BytesPerSecond = _copy.BytesPerSecond,
                ResumedFrom = _copy.ResumedFrom,
                CheckpointedUpTo = _copy.CheckpointedUpTo,
                Elapsed = elapsed,
                EstimatedRemaining = remaining,
                IsCheckpoint = checkpoint,
                DurableBytesHashed = _durableHashed,
                DurableDataBytesSent = _durableSent,
            });
        }
    }

    /// <summary>Forwards reports synchronously, on the reporting thread.</summary>
    private sealed class Relay<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
