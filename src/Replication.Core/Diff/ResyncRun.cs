using System.Buffers;
using System.Threading.Channels;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>One run of <see cref="DiskResync.ResyncAsync"/>: its state, counters and progress.</summary>
internal sealed class ResyncRun
{
    /// <summary>Largest piece read from the source and written to the target at once.</summary>
    internal const int CopyChunkSize = 4 << 20;

    private const int PiecesInFlight = 4;
    private const long CopyProgressStep = 16L << 20;

    private readonly IVirtualDisk _source;
    private readonly IVirtualDisk _target;
    private readonly ResyncOptions _options;
    private readonly IProgress<ResyncProgress>? _progress;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly ResyncResult _result;
    private readonly List<string> _temporaryFiles = [];
    private readonly Lock _reportLock = new();
    private ResyncPhase _phase;
    private long _hashedBefore;
    private long _hashedNow;
    private long _hashWorkTotal;
    private long _hashWorkDone;
    private long _compared;
    private long _copied;
    private long _toCopy;
    private long _durableHashed;
    private long _durableSent;

    public ResyncRun(IVirtualDisk source, IVirtualDisk target, ResyncOptions options, IProgress<ResyncProgress>? progress)
    {
        _source = source;
        _target = target;
        _options = options;
        _progress = progress;
        _time = options.TimeProvider;
        _started = _time.GetTimestamp();
        _result = new ResyncResult { VirtualSize = source.VirtualSize, IsDryRun = options.DryRun };
    }

    private bool DryRun => _options.DryRun;

    private int Coarse => _options.Manifest.CoarseBlockSize;

    private int Fine => _options.Manifest.FineBlockSize;

    public async Task<ResyncResult> RunAsync(CancellationToken cancellationToken)
    {
        string? checkpointPath = _options.CheckpointPath;
        string? targetManifestPath = _options.EffectiveTargetManifestPath;
        DiskStamp sourceStamp = DiskStamp.Of(_source);
        ResyncCheckpoint? checkpoint = LoadCheckpoint(checkpointPath);
        bool forceTargetRebuild = false;
        if (checkpoint is { } found && !BelongsToThisRun(found, sourceStamp))
        {
            // The source or the geometry changed since: its ranges no longer apply, and the target may be half-written,
            // so its stored manifest cannot be trusted either.
            checkpoint = null;
            forceTargetRebuild = true;
            DiscardCheckpoint();
        }

        BlockManifest? sourceManifest = null;
        BlockManifest? targetManifest = null;
        try
        {
            if (checkpoint is { } resume)
            {
                sourceManifest = OpenPinned(_options.SourceManifestPath, resume.SourceManifestChecksum);
                targetManifest = OpenPinned(targetManifestPath, resume.TargetManifestChecksum);
                if (targetManifest is null && resume.Phase == ResyncCheckpoint.FinalizingPhase
                    && OpenPinned(targetManifestPath, resume.SourceManifestChecksum) is { } finished)
                {
                    // Killed after the new target manifest was stored but before the checkpoint was deleted.
                    finished.Dispose();
                    _result.Resumed = true;
                    _result.TargetManifest = TargetManifestOrigin.Checkpoint;
                    _result.BytesCompared = _source.VirtualSize;
                    DiscardCheckpoint();
                    return Complete();
                }

                if (sourceManifest is null || targetManifest is null)
                {
                    sourceManifest?.Dispose();
                    targetManifest?.Dispose();
                    sourceManifest = targetManifest = null;
                    checkpoint = null;
                    forceTargetRebuild = true;
                    DiscardCheckpoint();
                }
                else
                {
                    _result.Resumed = true;
                    _result.TargetManifest = TargetManifestOrigin.Checkpoint;
                }
            }

            sourceManifest ??= await BuildSourceManifestAsync(cancellationToken).ConfigureAwait(false);
            targetManifest ??= await ObtainTargetManifestAsync(targetManifestPath, forceTargetRebuild, cancellationToken).ConfigureAwait(false);
            long cursor = checkpoint?.Cursor ?? 0;
            Compare(sourceManifest, targetManifest, cursor, resumedCopy: checkpoint is not null, cancellationToken);
            if (DryRun)
            {
                return Complete();
            }

            ResyncCheckpoint state = checkpoint ?? new ResyncCheckpoint(
                ResyncCheckpoint.CopyingPhase, _source.VirtualSize, Coarse, Fine, sourceStamp, sourceManifest.TableChecksum, targetManifest.TableChecksum, 0, 0, 0);
            if (checkpoint is null)
            {
                // Before the first byte of the target is written: with a checkpoint, a run killed mid-copy is resumed
                // from it; without one, the stored manifest no longer describes the target and must not be found.
                SaveCheckpoint(state);
                if (checkpointPath is null && targetManifestPath is not null)
                {
                    DurableFile.Delete(targetManifestPath);
                }
            }

            state = await CopyAsync(sourceManifest, targetManifest, state, cancellationToken).ConfigureAwait(false);
            SetPhase(ResyncPhase.Finalizing);
            await _target.FlushAsync(cancellationToken).ConfigureAwait(false);
            SaveCheckpoint(state.With(ResyncCheckpoint.FinalizingPhase, _source.VirtualSize, state.DataBytesSent, state.BytesWritten));
            if (_options.CheckpointPath is not null)
            {
                _durableSent = _result.DataBytesSent;
                Report(checkpoint: true);
            }

            if (targetManifestPath is not null)
            {
                StoreTargetManifest(sourceManifest, targetManifestPath);
            }

            DiscardCheckpoint();
            return Complete();
        }
        finally
        {
            sourceManifest?.Dispose();
            targetManifest?.Dispose();
            foreach (string temporary in _temporaryFiles)
            {
                File.Delete(temporary);
            }
        }
    }

    private ResyncResult Complete()
    {
        _result.Elapsed = _time.GetElapsedTime(_started);
        SetPhase(ResyncPhase.Completed);
        return _result;
    }

    private bool BelongsToThisRun(ResyncCheckpoint checkpoint, DiskStamp sourceStamp) =>
        checkpoint.VirtualSize == _source.VirtualSize && checkpoint.CoarseBlockSize == Coarse && checkpoint.FineBlockSize == Fine
        && sourceStamp.IsKnown && checkpoint.SourceStamp == sourceStamp;

    private static ResyncCheckpoint? LoadCheckpoint(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        return ResyncCheckpoint.Read(bytes, path);
    }

    private void SaveCheckpoint(ResyncCheckpoint checkpoint)
    {
        if (_options.CheckpointPath is { } path && !DryRun)
        {
            Span<byte> bytes = stackalloc byte[ResyncCheckpoint.Size];
            checkpoint.WriteTo(bytes);
            DurableFile.WriteAllBytes(path, bytes);
        }
    }

    private void DiscardCheckpoint()
    {
        if (_options.CheckpointPath is { } path && !DryRun)
        {
            DurableFile.Delete(path);
            DurableFile.Delete(_options.SourceManifestPath!);
        }
    }

    /// <summary>Opens a manifest only if it is intact and its block table has the checksum a checkpoint recorded.</summary>
    private static BlockManifest? OpenPinned(string? path, UInt128 tableChecksum)
    {
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        BlockManifest manifest;
        try
        {
            manifest = BlockManifest.Open(path);
        }
        catch (InvalidManifestException)
        {
            return null;
        }

        if (manifest.TableChecksum == tableChecksum)
        {
            return manifest;
        }

        manifest.Dispose();
        return null;
    }

    private async Task<BlockManifest> BuildSourceManifestAsync(CancellationToken cancellationToken)
    {
        SetPhase(ResyncPhase.HashingSource);
        string? kept = DryRun ? null : _options.SourceManifestPath;
        ManifestBuildResult built = await BuildAsync(_source, kept, kept, cancellationToken).ConfigureAwait(false);
        return built.Manifest;
    }

    /// <summary>The stored target manifest when the policy trusts it, else one hashed from the target.</summary>
    private async Task<BlockManifest> ObtainTargetManifestAsync(string? path, bool forceRebuild, CancellationToken cancellationToken)
    {
        if (!forceRebuild && _options.TargetManifestPolicy != TargetManifestPolicy.Rebuild && path is not null && File.Exists(path))
        {
            BlockManifest? stored = null;
            try
            {
                stored = BlockManifest.Open(path);
                stored.EnsureGeometry(_target.VirtualSize, Coarse, Fine);
            }
            catch (InvalidManifestException ex)
            {
                // Corrupt, of another version, or cut differently: never trusted, rebuilt below.
                _result.TargetManifestRejection = ex.Message;
                stored?.Dispose();
                stored = null;
            }

            if (stored is not null)
            {
                if (_options.TargetManifestPolicy == TargetManifestPolicy.VerifyStampAndSample && !stored.IsCurrentFor(_target))
                {
                    _result.TargetManifestRejection = $"{path}: the target changed since its manifest was written (stamp differs)";
                }
                else if (await SampleMatchesAsync(stored, cancellationToken).ConfigureAwait(false) is { } mismatch)
                {
                    _result.TargetManifestRejection = $"{path}: block {mismatch} of the target does not match its manifest";
                }
                else
                {
                    _result.TargetManifest = TargetManifestOrigin.Verified;
                    return stored;
                }

                stored.Dispose();
            }
        }

        SetPhase(ResyncPhase.HashingTarget);
        _result.TargetManifest = TargetManifestOrigin.Rebuilt;
        bool keep = !DryRun && path is not null;
        ManifestBuildResult built = await BuildAsync(_target, keep ? path : null, keep ? path + ".partial" : null, cancellationToken).ConfigureAwait(false);
        return built.Manifest;
    }

    /// <summary>
    /// Builds a manifest; kept at <paramref name="finalPath"/> (resuming a partial one at <paramref name="workPath"/>)
    /// or, when null, in a temporary file deleted at the end of the run.
    /// </summary>
    private async Task<ManifestBuildResult> BuildAsync(IVirtualDisk disk, string? finalPath, string? workPath, CancellationToken cancellationToken)
    {
        bool keep = finalPath is not null;
        if (!keep)
        {
            finalPath = workPath = Path.Combine(Path.GetTempPath(), $"repl-{Guid.NewGuid():N}.manifest");
            _temporaryFiles.Add(finalPath);
        }

        long workBefore = _hashWorkDone;
        _hashWorkTotal += disk.VirtualSize;
        long durableBefore = _durableHashed;
        var relay = new Relay<ManifestProgress>(p =>
        {
            _hashedNow = p.BytesHashed;
            _hashWorkDone = workBefore + p.BytesProcessed;
            Report();
        });
        ManifestBuildResult built = await ManifestBuilder.BuildAsync(
            disk,
            finalPath!,
            workPath!,
            _options.Manifest,
            resume: keep,
            keep ? _options.CheckpointInterval : 0,
            relay,
            keep ? (_, hashed) => { _durableHashed = durableBefore + hashed; Report(checkpoint: true); } : null,
            cancellationToken).ConfigureAwait(false);
        _hashedBefore += built.BytesHashed;
        _hashedNow = 0;
        _hashWorkDone = workBefore + disk.VirtualSize;
        _result.BytesHashed += built.BytesHashed;
        _result.BytesRead += built.BytesRead;
        if (keep)
        {
            _durableHashed = durableBefore + built.BytesHashed;
            Report(checkpoint: true);
        }

        return built;
    }

    /// <summary>Re-hashes a random sample of coarse blocks of the target; returns the first that differs, or null.</summary>
    private async Task<int?> SampleMatchesAsync(BlockManifest manifest, CancellationToken cancellationToken)
    {
        SetPhase(ResyncPhase.VerifyingTarget);
        return await ManifestSample.FindMismatchAsync(
            manifest,
            (offset, destination, ct) => _target.ReadAsync(offset, destination, ct),
            _options.SampleFraction,
            _options.RandomSeed is { } seed ? new Random(seed) : Random.Shared,
            (read, hashed) =>
            {
                _result.BytesRead += read;
                _result.BytesHashed += hashed;
            },
            cancellationToken).ConfigureAwait(false);
    }

    private void Compare(BlockManifest source, BlockManifest target, long cursor, bool resumedCopy, CancellationToken cancellationToken)
    {
        SetPhase(ResyncPhase.Comparing);
        target.EnsureGeometry(source.VirtualSize, source.CoarseBlockSize, source.FineBlockSize);
        var all = new DiffTotals();
        foreach (DiffRange range in BlockDiff.EnumerateRanges(source, target, 0, all, cancellationToken))
        {
            _compared = range.End;
        }

        DiffTotals left = all;
        if (cursor > 0)
        {
            left = new DiffTotals();
            foreach (DiffRange range in BlockDiff.EnumerateRanges(source, target, cursor, left, cancellationToken))
            {
                _ = range;
            }
        }

        _compared = source.VirtualSize;
        _toCopy = left.ChangedBytes;
        _result.BytesCompared = source.VirtualSize;
        _result.BytesDiffering = all.ChangedBytes;
        _result.ZeroBytes = all.ZeroBytes;
        _result.RangeCount = all.Ranges;
        _result.DifferingBlocks = all.DifferingBlocks;
        _result.ManifestBytes = resumedCopy ? 0 : all.ManifestBytes;
        if (DryRun)
        {
            _result.DataBytesSent = left.ChangedBytes - left.ZeroBytes;
        }

        Report();
    }

    private async Task<ResyncCheckpoint> CopyAsync(BlockManifest source, BlockManifest target, ResyncCheckpoint state, CancellationToken cancellationToken)
    {
        SetPhase(ResyncPhase.Copying);
        var pieces = Channel.CreateBounded<Piece>(new BoundedChannelOptions(PiecesInFlight) { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task reader = Task.Run(() => ReadPiecesAsync(source, target, state.Cursor, pieces.Writer, cts.Token), CancellationToken.None);
        long sinceCheckpoint = 0;
        long nextReport = CopyProgressStep;
        try
        {
            await foreach (Piece piece in pieces.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                try
                {
                    if (piece.Buffer is null)
                    {
                        await _target.ZeroAsync(piece.Offset, piece.Length, cts.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await _target.WriteAsync(piece.Offset, piece.Buffer.AsMemory(0, (int)piece.Length), cts.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    if (piece.Buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(piece.Buffer);
                    }
                }

                long sent = piece.Buffer is null ? 0 : piece.Length;
                _copied += piece.Length;
                _result.BytesWritten += piece.Length;
                _result.DataBytesSent += sent;
                state = state.With(ResyncCheckpoint.CopyingPhase, piece.Offset + piece.Length, state.DataBytesSent + sent, state.BytesWritten + piece.Length);
                sinceCheckpoint += piece.Length;
                if (_options.CheckpointPath is not null && sinceCheckpoint >= _options.CheckpointInterval)
                {
                    await _target.FlushAsync(cts.Token).ConfigureAwait(false);
                    SaveCheckpoint(state);
                    sinceCheckpoint = 0;
                    _durableSent = _result.DataBytesSent;
                    Report(checkpoint: true);
                }
                else if (_copied >= nextReport)
                {
                    nextReport = _copied + CopyProgressStep;
                    Report();
                }
            }

            await reader.ConfigureAwait(false);
            return state;
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The reader stops because we cancelled it; the original failure is what matters.
            }

            while (pieces.Reader.TryRead(out Piece left))
            {
                if (left.Buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(left.Buffer);
                }
            }

            throw;
        }
    }

    /// <summary>Reads the data of every differing range at or after <paramref name="cursor"/> from the source, in pieces.</summary>
    private async Task ReadPiecesAsync(BlockManifest source, BlockManifest target, long cursor, ChannelWriter<Piece> output, CancellationToken cancellationToken)
    {
        try
        {
            var totals = new DiffTotals();
            foreach (DiffRange range in BlockDiff.EnumerateRanges(source, target, cursor, totals, cancellationToken))
            {
                for (long offset = range.Offset; offset < range.End;)
                {
                    int length = (int)Math.Min(CopyChunkSize, range.End - offset);
                    if (range.IsZero)
                    {
                        await output.WriteAsync(new Piece(offset, length, null), cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
                        try
                        {
                            await _source.ReadAsync(offset, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                            _result.BytesRead += length;
                            await output.WriteAsync(new Piece(offset, length, buffer), cancellationToken).ConfigureAwait(false);
                        }
                        catch
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            throw;
                        }
                    }

                    offset += length;
                }
            }

            output.Complete();
        }
        catch (Exception ex)
        {
            output.Complete(ex);
            throw;
        }
    }

    /// <summary>Replaces the stored target manifest with the source's, stamped for the target as it is now.</summary>
    private void StoreTargetManifest(BlockManifest sourceManifest, string path)
    {
        string temp = path + ".tmp";
        File.Copy(sourceManifest.FilePath, temp, overwrite: true);
        using (var file = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            ManifestHeader header = BlockManifest.ReadHeader(file, temp);
            var stamped = new ManifestHeader(false, header.VirtualSize, header.CoarseBlockSize, header.FineBlockSize, DiskStamp.Of(_target), header.TableChecksum);
            Span<byte> bytes = stackalloc byte[ManifestHeader.Size];
            stamped.WriteTo(bytes);
            RandomAccess.Write(file, bytes, 0);
            RandomAccess.FlushToDisk(file);
        }

        DurableFile.Replace(temp, path);
    }

    private void SetPhase(ResyncPhase phase)
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
            ReportLocked(checkpoint);
        }
    }

    private void ReportLocked(bool checkpoint)
    {
        TimeSpan elapsed = _time.GetElapsedTime(_started);
        long total = _hashWorkTotal + _toCopy;
        long done = _hashWorkDone + _copied;
        TimeSpan? remaining = done > 0 && total >= done && _phase != ResyncPhase.Completed
            ? TimeSpan.FromTicks((long)(elapsed.Ticks * ((double)(total - done) / done)))
            : _phase == ResyncPhase.Completed ? TimeSpan.Zero : null;
        _progress!.Report(new ResyncProgress(
            _phase,
            _hashedBefore + _hashedNow,
            _compared,
            _result.BytesDiffering,
            _copied,
            _toCopy,
            elapsed,
            remaining,
            checkpoint,
            _durableHashed,
            _durableSent));
    }

    private readonly record struct Piece(long Offset, long Length, byte[]? Buffer);

    /// <summary>Forwards reports synchronously, on the reporting thread.</summary>
    private sealed class Relay<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
