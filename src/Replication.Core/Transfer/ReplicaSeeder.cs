using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;

namespace Replication.Core.Transfer;

/// <summary>
/// Seeds a replica, or re-seeds one by block manifest: the source is hashed into a manifest, compared with the manifest
/// the target stored after its last completed seed, and only the differing fine blocks are sent. The new manifest is
/// stored on the target once the replica is flushed.
/// </summary>
/// <remarks>
/// The stored manifest is removed before the first byte of the replica changes, so an interrupted seed never leaves a
/// manifest that describes bytes the replica no longer holds: the next run sends everything (resuming from the
/// transfer checkpoint when one was set) instead of trusting a stale record.
/// </remarks>
public static class ReplicaSeeder
{
    /// <summary>Makes the replica equal to <paramref name="source"/>, sending as little as the stored manifest allows.</summary>
    /// <param name="source">The disk to copy; it must not change while the seed runs.</param>
    /// <param name="target">The target holding the replica and its manifest.</param>
    /// <param name="writer">The fenced writer of that target's replica.</param>
    /// <param name="options">Transfer and manifest options.</param>
    /// <param name="cancellationToken">Stops the seed; a transfer checkpoint, when set, is saved first.</param>
    /// <exception cref="ReplicationException">As for <see cref="TransferPipeline.SeedAsync"/>.</exception>
    public static async Task<ReplicaSeedResult> SeedAsync(
        IVirtualDisk source,
        IReplicaTarget target,
        IReplicaWriter writer,
        ReplicaSeedOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(writer);
        options ??= new ReplicaSeedOptions();
        string work = Path.Combine(options.WorkDirectory ?? Path.GetTempPath(), "repl-seed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            using ManifestBuildResult built = await BlockManifest.BuildAsync(
                source, Path.Combine(work, "source.manifest"), options.Manifest, cancellationToken: cancellationToken).ConfigureAwait(false);
            (BlockDiff? diff, string? problem) = options.IgnoreStoredManifest
                ? (null, null)
                : await CompareWithStoredAsync(built.Manifest, target, Path.Combine(work, "target.manifest"), cancellationToken).ConfigureAwait(false);

            // From here on the replica changes: its stored manifest must not outlive an interrupted run.
            await writer.WriteManifestAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            TransferResult transfer = diff is null
                ? await TransferPipeline.SeedAsync(source, writer, options.Transfer, cancellationToken).ConfigureAwait(false)
                : await TransferPipeline.CopyRangesAsync(source, writer, diff.Ranges, options.Transfer with { CheckpointPath = null }, cancellationToken).ConfigureAwait(false);

            await using (FileStream manifest = File.OpenRead(built.Manifest.FilePath))
            {
                await writer.WriteManifestAsync(manifest, cancellationToken).ConfigureAwait(false);
            }

            return new ReplicaSeedResult(
                diff is null ? ReplicaSeedMode.Full : ReplicaSeedMode.ByManifest,
                diff?.ChangedBytes ?? source.VirtualSize,
                built.BytesHashed,
                problem,
                transfer);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The diff against the target's stored manifest, or null and the reason it cannot be used.</summary>
    private static async Task<(BlockDiff? Diff, string? Problem)> CompareWithStoredAsync(
        BlockManifest source, IReplicaTarget target, string copyPath, CancellationToken cancellationToken)
    {
        Stream? stored = await target.OpenManifestAsync(cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return (null, null);
        }

        await using (stored.ConfigureAwait(false))
        {
            if (stored.CanSeek && stored.Length == 0)
            {
                return (null, "the stored manifest is empty (a seed was interrupted)");
            }

            FileStream copy = File.Create(copyPath);
            await using (copy.ConfigureAwait(false))
            {
                await stored.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            }
        }

        try
        {
            using BlockManifest manifest = BlockManifest.Open(copyPath);
            return (BlockDiff.Compare(source, manifest, cancellationToken), null);
        }
        catch (InvalidManifestException ex)
        {
            // A stored manifest that is damaged, empty or of other block sizes is never trusted: send everything.
            return (null, ex.Message);
        }
    }
}
