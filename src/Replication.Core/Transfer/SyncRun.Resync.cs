using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

internal sealed partial class SyncRun
{
    /// <summary>A resync by block manifest, checkpointed; a checkpoint of an interrupted seed resumes the seed instead.</summary>
    public async Task<SyncResult> ResyncAsync(CancellationToken cancellationToken)
    {
        string? checkpointPath = CheckpointPath;
        CopyCheckpoint? checkpoint = CopyCheckpoint.Load(checkpointPath);
        if (checkpoint is { Kind: CopyKind.Seed })
        {
            // An interrupted full seed of this destination: its checkpoint knows what was sent.
            return await SeedAsync(cancellationToken).ConfigureAwait(false);
        }

        DiskStamp sourceStamp = DiskStamp.Of(_source);
        bool forceRebuild = false;
        if (checkpoint is { } found && !BelongsToThisRun(found, sourceStamp))
        {
            // Another job, or the source or the geometry changed since: its ranges no longer apply, and the destination
            // may be half-written, so its stored manifest cannot be trusted either.
            checkpoint = null;
            forceRebuild = true;
            DiscardCheckpoint();
        }

        _result.Mode = SyncMode.ByManifest;
        string sourcePath = WorkingFile(".source", out bool kept);
        string targetPath = WorkingFile(".target", out _);
        BlockManifest? sourceManifest = null;
        BlockManifest? targetManifest = null;
        KeptSourceManifest? keeper = null;
        try
        {
            if (checkpoint is { } resume)
            {
                sourceManifest = OpenPinned(sourcePath, resume.SourceManifestChecksum);
                if (resume.Phase == CopyCheckpoint.FinalizingPhase)
                {
                    // Killed after the copy was flushed, while the manifest was stored or the checkpoint deleted: storing
                    // it again is harmless.
                    _result.Resumed = true;
                    _result.TargetManifest = TargetManifestOrigin.Checkpoint;
                    _result.BytesCompared = _source.VirtualSize;
                    if (sourceManifest is not null)
                    {
                        SetPhase(SyncPhase.Finalizing);
                        await StoreManifestAsync(sourceManifest, cancellationToken).ConfigureAwait(false);
                    }

                    DiscardCheckpoint();
                    return Complete();
                }

                targetManifest = OpenPinned(targetPath, resume.TargetManifestChecksum);
                if (sourceManifest is null || targetManifest is null)
                {
                    sourceManifest?.Dispose();
                    targetManifest?.Dispose();
                    sourceManifest = targetManifest = null;
                    checkpoint = null;
                    forceRebuild = true;
                    DiscardCheckpoint();
                }
                else
                {
                    _result.Resumed = true;
                    _result.TargetManifest = TargetManifestOrigin.Checkpoint;
                }
            }

            if (_options.SourceTrackingDirectory is { } tracking)
            {
                keeper = KeptSourceManifest.Open(tracking, _source);
            }

            if (sourceManifest is null)
            {
                ManifestSeed? seed = null;
                if (keeper is not null)
                {
                    bool[]? stale = keeper.PlanRefresh(_options.Manifest, out string? rejection);
                    _result.SourceManifestRejection = rejection;
                    seed = stale is null ? null : new ManifestSeed(keeper.ManifestPath, stale);
                }

                SetPhase(SyncPhase.HashingSource);
                ManifestBuildResult built = await BuildAsync(_source, sourcePath, kept, fromDestination: false, cancellationToken, seed).ConfigureAwait(false);
                _result.SourceManifestRefreshed = seed is { Used: true };
                sourceManifest = built.Manifest;
            }

            targetManifest ??= await ObtainTargetManifestAsync(targetPath, kept, forceRebuild, cancellationToken).ConfigureAwait(false);
            long cursor = checkpoint?.Watermark ?? 0;
            List<DiffRange> ranges = Compare(sourceManifest, targetManifest, cursor, resumedCopy: checkpoint is not null, cancellationToken);
            if (DryRun)
            {
                return Complete();
            }

            CopyCheckpoint state = checkpoint ?? new CopyCheckpoint
            {
                Kind = CopyKind.Resync,
                JobKey = JobKey("resync", _options.Ranges ?? []),
                VirtualSize = _source.VirtualSize,
                BytesTotal = _source.VirtualSize,
                SourceStamp = sourceStamp,
                SourceManifestChecksum = sourceManifest.TableChecksum,
                TargetManifestChecksum = targetManifest.TableChecksum,
                CoarseBlockSize = Coarse,
                FineBlockSize = Fine,
            };
            if (checkpoint is null && ranges.Count > 0)
            {
                // Before the first byte of the destination is written: with a checkpoint, a run killed mid-copy is
                // resumed from it; the stored manifest no longer describes the destination and must not be found.
                if (checkpointPath is not null)
                {
                    state.Save(checkpointPath);
                }

                if (_manifests is not null)
                {
                    await _manifests.WithdrawManifestAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            if (ranges.Count > 0)
            {
                await CopyAsync(
                    ranges.Select(r => new CopyRange(r.Offset, r.Length, r.IsZero)),
                    _toCopy,
                    cursor,
                    0,
                    destinationKnownZero: false,
                    scanForZeros: false,
                    CopyCheckpoint.Saver(checkpointPath, state, mark => _durableSent = mark.BytesSent),
                    cancellationToken).ConfigureAwait(false);
            }

            SetPhase(SyncPhase.Finalizing);
            if (checkpointPath is not null && ranges.Count > 0)
            {
                state = state with { Phase = CopyCheckpoint.FinalizingPhase, Watermark = _source.VirtualSize };
                state.Save(checkpointPath);
                _durableSent = _result.DataBytesSent;
                Report(checkpoint: true);
            }

            if (targetManifest.TableChecksum != sourceManifest.TableChecksum || _result.TargetManifest != TargetManifestOrigin.Verified)
            {
                // The destination now reads as the source: its manifest is the source's.
                await StoreManifestAsync(sourceManifest, cancellationToken).ConfigureAwait(false);
            }

            if (keeper is not null && !DryRun)
            {
                // The source was not written meanwhile (the tracker's lock is held); the record checks its stamp again.
                string? notKept = keeper.Record(sourceManifest);
                _result.SourceManifestRejection ??= notKept;
            }

            DiscardCheckpoint();
            return Complete();
        }
        finally
        {
            keeper?.Dispose();
            sourceManifest?.Dispose();
            targetManifest?.Dispose();
            DeleteTemporaryFiles();
        }
    }

    private bool BelongsToThisRun(CopyCheckpoint checkpoint, DiskStamp sourceStamp) =>
        checkpoint.Kind == CopyKind.Resync && checkpoint.JobKey == JobKey("resync", _options.Ranges ?? [])
        && checkpoint.VirtualSize == _source.VirtualSize && checkpoint.CoarseBlockSize == Coarse && checkpoint.FineBlockSize == Fine
        && sourceStamp.IsKnown && checkpoint.SourceStamp == sourceStamp;

    /// <summary>Opens a manifest only if it is intact and its block table has the checksum a checkpoint recorded.</summary>
    private static BlockManifest? OpenPinned(string path, UInt128 tableChecksum)
    {
        if (!File.Exists(path))
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

    /// <summary>The stored destination manifest when the policy and a sample trust it, else one hashed from the destination.</summary>
    private async Task<BlockManifest> ObtainTargetManifestAsync(string path, bool kept, bool forceRebuild, CancellationToken cancellationToken)
    {
        if (!forceRebuild && _options.TargetManifestPolicy != TargetManifestPolicy.Rebuild && _manifests is not null)
        {
            if (await TryStoredManifestAsync(path, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                return stored;
            }
        }
        else if (_manifests is null)
        {
            _result.TargetManifestRejection = $"{_destination.Location}: no manifest store was given; the destination is hashed.";
        }

        SetPhase(SyncPhase.HashingTarget);
        _result.TargetManifest = TargetManifestOrigin.Rebuilt;
        return (await BuildAsync(_destination, path, kept, fromDestination: true, cancellationToken).ConfigureAwait(false)).Manifest;
    }

    /// <summary>Copies the stored manifest beside the checkpoint and verifies it; null (with the reason recorded) when it is not to be trusted.</summary>
    private async Task<BlockManifest?> TryStoredManifestAsync(string path, CancellationToken cancellationToken)
    {
        string? location;
        await using (StoredManifest stored = await _manifests!.OpenManifestAsync(cancellationToken).ConfigureAwait(false))
        {
            if (stored.Content is not { } content)
            {
                _result.TargetManifestRejection = stored.Rejection;
                return null;
            }

            location = stored.Location;
            await DurableFile.WriteAsync(path, (file, ct) => new ValueTask(content.CopyToAsync(file, ct)), cancellationToken).ConfigureAwait(false);
        }

        BlockManifest? manifest = null;
        try
        {
            manifest = BlockManifest.Open(path);
            manifest.EnsureGeometry(_destination.VirtualSize, Coarse, Fine);
        }
        catch (InvalidManifestException ex)
        {
            // Damaged, of another version, or cut differently: never trusted, rebuilt.
            _result.TargetManifestRejection = $"{location}: {ex.Message}";
            manifest?.Dispose();
            return null;
        }

        SetPhase(SyncPhase.VerifyingTarget);
        int? mismatch = await FindSampleMismatchAsync(manifest, cancellationToken).ConfigureAwait(false);
        if (mismatch is { } block)
        {
            _result.TargetManifestRejection = $"{location}: block {block} of the target does not match its manifest";
            manifest.Dispose();
            return null;
        }

        _result.TargetManifest = TargetManifestOrigin.Verified;
        return manifest;
    }

    /// <summary>
    /// Compares the manifests; returns the differing ranges at or after <paramref name="cursor"/> (inside
    /// <see cref="SyncOptions.Ranges"/> when given) and records the totals of the whole comparison.
    /// </summary>
    private List<DiffRange> Compare(BlockManifest source, BlockManifest target, long cursor, bool resumedCopy, CancellationToken cancellationToken)
    {
        SetPhase(SyncPhase.Comparing);
        target.EnsureGeometry(source.VirtualSize, source.CoarseBlockSize, source.FineBlockSize);
        var all = new DiffTotals();
        var left = new DiffTotals();
        var wire = new DiffTotals();
        var ranges = new List<DiffRange>();
        foreach (DiffRange range in BlockDiff.EnumerateRanges(source, target, 0, wire, cancellationToken))
        {
            if (_options.Ranges is null)
            {
                // The whole disk: no restriction to enumerate (an iterator per differing range).
                Take(range);
            }
            else
            {
                foreach (DiffRange part in Restrict(range, _options.Ranges))
                {
                    Take(part);
                }
            }

            _compared = range.End;
        }

        void Take(DiffRange part)
        {
            all.Add(part);
            if (part.End > cursor)
            {
                DiffRange clipped = part.Offset >= cursor ? part : new DiffRange(cursor, part.End - cursor, part.IsZero);
                left.Add(clipped);
                ranges.Add(clipped);
            }
        }

        _compared = _options.Ranges is null ? source.VirtualSize : _options.Ranges.Sum(r => r.Length);
        _toCopy = left.ChangedBytes;
        _result.BytesCompared = _compared;
        _result.BytesDiffering = all.ChangedBytes;
        _result.ZeroBytes = all.ZeroBytes;
        _result.RangeCount = all.Ranges;
        _result.DifferingBlocks = wire.DifferingBlocks;
        _result.ManifestBytes = resumedCopy ? 0 : wire.ManifestBytes - (wire.Ranges * BlockDiff.RangeHeaderWireBytes) + (all.Ranges * BlockDiff.RangeHeaderWireBytes);
        if (DryRun)
        {
            _result.DataBytesSent = left.ChangedBytes - left.ZeroBytes;
        }

        Report();
        return ranges;
    }

    /// <summary>The parts of <paramref name="range"/> inside <paramref name="only"/> (<see cref="SyncOptions.Ranges"/>).</summary>
    private static IEnumerable<DiffRange> Restrict(DiffRange range, IReadOnlyList<DiskExtent> only)
    {
        foreach (DiskExtent allowed in only)
        {
            DiskExtent part = allowed.Intersect(range.Offset, range.Length);
            if (part.Length > 0)
            {
                yield return new DiffRange(part.Offset, part.Length, range.IsZero);
            }
        }
    }
}
