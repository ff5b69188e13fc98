using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Core.Transfer;

internal sealed partial class SyncRun
{
    /// <summary>A full copy of the source's allocated ranges, checkpointed.</summary>
    public async Task<SyncResult> SeedAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<DiskExtent> ranges = _options.Ranges ?? [new DiskExtent(0, _destination.VirtualSize)];
        long total = ranges.Sum(r => r.Length);

        UInt128 key = JobKey("seed", ranges);
        bool knownZero = _options.DestinationKnownZero;
        long resumeFrom = 0;
        CopyCheckpoint? checkpoint = CopyCheckpoint.Load(CheckpointPath);
        var state = new CopyCheckpoint { Kind = CopyKind.Seed, JobKey = key, VirtualSize = _destination.VirtualSize, BytesTotal = total, DestinationKnownZero = knownZero };
        if (checkpoint is { Kind: CopyKind.Seed } found && found.JobKey == key && found.BytesTotal == total)
        {
            resumeFrom = found.Watermark;
            knownZero = found.DestinationKnownZero;
            state = found;
            _result.Resumed = resumeFrom > 0;
        }
        else if (CheckpointPath is { } path)
        {
            // Recorded before any write, so a run killed before its first checkpoint still resumes knowing whether the
            // destination started out as zeros.
            state.Save(path);
        }

        _result.Mode = SyncMode.Full;
        _result.BytesCompared = total;
        _result.BytesDiffering = total;
        _toCopy = total;
        ManifestBuildResult? sourceManifest = null;
        try
        {
            if (_manifests is not null)
            {
                SetPhase(SyncPhase.HashingSource);
                string manifestPath = WorkingFile(".source", out bool kept);
                sourceManifest = await BuildAsync(_source, manifestPath, kept, fromDestination: false, cancellationToken).ConfigureAwait(false);
            }

            await CopyAsync(
                CopyEngine.SeedRanges(_source, ranges, resumeFrom),
                total,
                resumeFrom,
                CopyEngine.BytesBelow(ranges, resumeFrom),
                knownZero,
                scanForZeros: true,
                CopyCheckpoint.Saver(CheckpointPath, state, mark => _durableSent = mark.BytesSent),
                cancellationToken).ConfigureAwait(false);

            SetPhase(SyncPhase.Finalizing);
            if (sourceManifest is not null)
            {
                await StoreManifestAsync(sourceManifest.Manifest, cancellationToken).ConfigureAwait(false);
            }

            DiscardCheckpoint();
            return Complete();
        }
        finally
        {
            sourceManifest?.Dispose();
            DeleteTemporaryFiles();
        }
    }
}
