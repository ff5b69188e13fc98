namespace Replication.Core.Diff;

/// <summary>
/// Where the block manifest of a disk is kept between synchronisations, so the next one reads the disk only to verify
/// it: a replica's writer (in the Targets layer) keeps it beside the replica, a <see cref="ManifestFile"/>
/// beside a disk file. A stored manifest describes the disk exactly or is not given out.
/// </summary>
public interface IManifestStore
{
    /// <summary>
    /// Opens the stored manifest when it still describes the disk as it is now (the stamp recorded with it matches);
    /// otherwise the result carries no content and says why.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.IntegrityCheckFailed"/> when it no longer matches its hash.</exception>
    ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the stored manifest with <paramref name="content"/> (read to the end) atomically: a reader sees the old or
    /// the new manifest, never a mix, and the new one is durable when this returns. The caller guarantees that the content
    /// describes the disk as it is now (every write completed); the store records the disk's stamp with it, so that any
    /// later change withdraws it.
    /// </summary>
    ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Durably removes the stored manifest before a change to the disk it describes (deleting twice is harmless): an
    /// interrupted change never leaves a manifest that describes bytes the disk no longer holds.
    /// </summary>
    ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default);
}
