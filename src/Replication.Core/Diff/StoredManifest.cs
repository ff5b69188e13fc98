namespace Replication.Core.Diff;

/// <summary>
/// The block manifest stored beside a disk or replica (<see cref="IManifestStore"/>), given out only while it still
/// describes it: the store records the disk's stamp with the manifest (for a disk file or a local replica the file's
/// device, inode, length, modification and change times and VHDX DataWriteGuid; on Azure the page blob's ETag and
/// sequence number, which any other writer changes) and compares it before handing the manifest out.
/// </summary>
/// <remarks>
/// A matching stamp is strong evidence, not proof, that nothing else wrote the replica: callers that can afford it also
/// re-hash a sample of the disk against the manifest before trusting it (the synchroniser of the Transfer layer does). Disposing closes
/// <see cref="Content"/>.
/// </remarks>
public sealed class StoredManifest : IAsyncDisposable, IDisposable
{
    private StoredManifest(Stream? content, string? rejection, string? location)
    {
        Content = content;
        Rejection = rejection;
        Location = location;
    }

    /// <summary>
    /// The manifest's bytes, checked against their hash, readable from the start and seekable; null when no manifest
    /// is stored or when it no longer describes the replica (<see cref="Rejection"/> says why).
    /// </summary>
    public Stream? Content { get; }

    /// <summary>Why no manifest is given out: none is stored, or the replica changed since it was stored. Null when <see cref="Content"/> is set.</summary>
    public string? Rejection { get; }

    /// <summary>Where the manifest is stored, for messages (never a secret); null when none is given out.</summary>
    public string? Location { get; }

    /// <summary>A manifest that still describes the disk.</summary>
    /// <param name="content">Its bytes; the instance owns the stream.</param>
    /// <param name="location">Where it is stored, for messages; never a secret.</param>
    public static StoredManifest Current(Stream content, string location)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(location);
        return new StoredManifest(content, null, location);
    }

    /// <summary>No manifest can be trusted for the replica.</summary>
    /// <param name="reason">Why, in words for an operator (names the target; never a secret).</param>
    public static StoredManifest None(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        return new StoredManifest(null, reason, null);
    }

    /// <inheritdoc />
    public void Dispose() => Content?.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Content?.DisposeAsync() ?? ValueTask.CompletedTask;
}
