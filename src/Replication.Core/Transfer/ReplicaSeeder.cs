using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;

namespace Replication.Core.Transfer;

/// <summary>
/// Seeds a replica, or re-seeds one by block manifest: the source is hashed into a manifest, compared with a manifest
/// of the replica, and only the differing fine blocks are sent. The replica's manifest is the one the target stored
/// after the last completed seed when it can be trusted — its recorded replica stamp matches (nothing else wrote the
/// replica since) and a random sample of the replica re-hashes to it — and otherwise one hashed from the replica now.
/// The source's manifest is stored on the target once the replica is flushed.
/// </summary>
/// <remarks>
/// The writer withdraws the stored manifest before the first byte of the replica changes, so an interrupted seed never
/// leaves a manifest that describes bytes the replica no longer holds; the next run resumes from the transfer
/// checkpoint when one was kept, and otherwise hashes the replica rather than trusting a stale record.
/// </remarks>
public static class ReplicaSeeder
{
    /// <summary>Makes the replica equal to <paramref name="source"/>, sending as little as a trusted replica manifest allows.</summary>
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
            var result = new ReplicaSeedResult { ManifestBytesHashed = built.BytesHashed };
            BlockManifest? replica = options.IgnoreStoredManifest
                ? null
                : await ReplicaManifestAsync(built.Manifest, target, writer, options, Path.Combine(work, "replica.manifest"), result, cancellationToken).ConfigureAwait(false);
            using (replica)
            {
                if (replica is null)
                {
                    result.Mode = ReplicaSeedMode.Full;
                    result.BytesDiffering = source.VirtualSize;
                    result.Transfer = await TransferPipeline.SeedAsync(source, writer, options.Transfer, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    BlockDiff diff = BlockDiff.Compare(built.Manifest, replica, cancellationToken);
                    result.Mode = ReplicaSeedMode.ByManifest;
                    result.BytesDiffering = diff.ChangedBytes;
                    result.Transfer = await TransferPipeline.CopyRangesAsync(
                        source, writer, diff.Ranges, options.Transfer with { CheckpointPath = null }, cancellationToken).ConfigureAwait(false);
                }
            }

            await using (FileStream manifest = File.OpenRead(built.Manifest.FilePath))
            {
                await writer.WriteManifestAsync(manifest, cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The replica's manifest: the stored one when its stamp and a sample agree with the replica, else one hashed from the
    /// replica now; null when a full, checkpointed seed is to resume instead.
    /// </summary>
    private static async Task<BlockManifest?> ReplicaManifestAsync(
        BlockManifest source,
        IReplicaTarget target,
        IReplicaWriter writer,
        ReplicaSeedOptions options,
        string path,
        ReplicaSeedResult result,
        CancellationToken cancellationToken)
    {
        string? rejection;
        await using (StoredManifest stored = await writer.OpenManifestAsync(cancellationToken).ConfigureAwait(false))
        {
            rejection = stored.Rejection;
            if (stored.Content is { } content)
            {
                FileStream copy = File.Create(path);
                await using (copy.ConfigureAwait(false))
                {
                    await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        if (rejection is null)
        {
            BlockManifest? manifest = null;
            try
            {
                manifest = BlockManifest.Open(path);
                manifest.EnsureGeometry(source.VirtualSize, source.CoarseBlockSize, source.FineBlockSize);
                int? mismatch = await ManifestSample.FindMismatchAsync(
                    manifest,
                    (offset, destination, ct) => writer.ReadAsync(offset, destination, ct),
                    options.SampleFraction,
                    options.RandomSeed is { } seed ? new Random(seed) : Random.Shared,
                    (read, _) => result.ReplicaBytesRead += read,
                    cancellationToken).ConfigureAwait(false);
                if (mismatch is null)
                {
                    result.ReplicaManifest = TargetManifestOrigin.Verified;
                    return manifest;
                }

                rejection = $"{writer.Location}: coarse block {mismatch} of the replica does not match its stored manifest (changed outside this tool)";
            }
            catch (InvalidManifestException ex)
            {
                // Damaged, of another version or cut differently: never trusted.
                rejection = ex.Message;
            }

            manifest?.Dispose();
        }

        result.ReplicaManifestRejection = rejection;
        if (options.Transfer.CheckpointPath is { } checkpoint && File.Exists(checkpoint))
        {
            // An interrupted full seed of this source: its checkpoint knows what was sent.
            return null;
        }

        using IVirtualDisk replica = await target.OpenReplicaAsync(cancellationToken).ConfigureAwait(false);
        ManifestBuildResult rebuilt = await BlockManifest.BuildAsync(replica, path + ".rebuilt", options.Manifest, cancellationToken: cancellationToken).ConfigureAwait(false);
        result.ReplicaManifest = TargetManifestOrigin.Rebuilt;
        result.ReplicaBytesRead += rebuilt.BytesRead;
        return rebuilt.Manifest;
    }
}
