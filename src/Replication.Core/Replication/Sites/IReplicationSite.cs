using Replication.Core.Targets;

namespace Replication.Core.Replication.Sites;

/// <summary>
/// A recovery site: a local directory (the embedded default) or an Azure Blob container. It holds, per protected item,
/// the item's record and, per disk, a replica target (the replica, its manifest, recovery points and writer fence).
/// </summary>
/// <remarks>
/// Records are opaque bytes to the site; the engine encodes them. Every write is atomic and durable when it returns,
/// and conditional on the version the writer read, so a writer working from a stale record is refused rather than
/// overwriting a newer one. Messages name the site by <see cref="Location"/> and never carry a secret.
/// </remarks>
public interface IReplicationSite
{
    /// <summary>Where the site is (a directory, or a container URI without its query); never holds a secret.</summary>
    string Location { get; }

    /// <summary>The replica target of one disk of an item. Creates nothing.</summary>
    /// <param name="item">The item's name.</param>
    /// <param name="disk">The disk's index in the item, from 0.</param>
    IReplicaTarget GetDiskTarget(string item, int disk);

    /// <summary>The size a replica of <paramref name="virtualSize"/> bytes gets at this site (Azure rounds up to whole MiB).</summary>
    long ReplicaSizeFor(long virtualSize);

    /// <summary>Checks that the site can be reached and written; creates it (directory, container) when <paramref name="create"/>.</summary>
    /// <exception cref="ReplicationException">Not reachable, not writable, missing (and not created), or the credentials are refused.</exception>
    ValueTask EnsureWritableAsync(bool create, CancellationToken cancellationToken = default);

    /// <summary>The item's record and its version, or null when the site has no such item.</summary>
    ValueTask<SiteRecord?> ReadRecordAsync(string item, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the item's record when its stored version is <paramref name="expectedVersion"/> (null: when none is
    /// stored), atomically and durably; returns the new version.
    /// </summary>
    /// <exception cref="ReplicationException">
    /// <see cref="ReplicationErrorCode.Conflict"/> when the stored record is not the one expected (another writer moved it on).
    /// </exception>
    ValueTask<string> WriteRecordAsync(string item, ReadOnlyMemory<byte> content, string? expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>The names of the items the site holds, in ordinal order.</summary>
    IAsyncEnumerable<string> ListItemsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes an item: its record, its replicas and their recovery points. Deleting what is gone is harmless.</summary>
    ValueTask DeleteItemAsync(string item, CancellationToken cancellationToken = default);
}
