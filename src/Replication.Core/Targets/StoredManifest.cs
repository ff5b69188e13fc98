namespace Replication.Core.Targets;

/// <summary>
/// The block manifest stored beside a replica, given out only while it still describes the replica: the target records
/// the replica's stamp with the manifest (on a local target the replica file's device, inode, length, modification and
/// change times and VHDX DataWriteGuid; on Azure the page blob's ETag and sequence number, which any other writer
/// changes) and compares it before handing the manifest out.
/// </summary>
/// <remarks>
/// A matching stamp is strong evidence, not proof, that nothing else wrote the replica: callers that can afford it also
/// re-hash a sample of the replica against the manifest before trusting it (the seeder does). Disposing closes
/// <see cref="Content"/>.
/// </remarks>
public sealed class StoredManifest : IAsyncDisposable, IDisposable
{
    private StoredManifest(Stream? content, string? rejection)
    {
        Content = content;
        Rejection = rejection;
    }

    /// <summary>
    /// The manifest's bytes, checked against their hash, readable from the start and seekable; null when no manifest
    /// is stored or when it no longer describes the replica (<see cref="Rejection"/> says why).
    /// </summary>
    public Stream? Content { get; }

    /// <summary>Why no manifest is given out: none is stored, or the replica changed since it was stored. Null when <see cref="Content"/> is set.</summary>
    public string? Rejection { get; }

    /// <summary>A manifest that still describes the replica.</summary>
    /// <param name="content">Its bytes; the instance owns the stream.</param>
    public static StoredManifest Current(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return new StoredManifest(content, null);
    }

    /// <summary>No manifest can be trusted for the replica.</summary>
    /// <param name="reason">Why, in words for an operator (names the target; never a secret).</param>
    public static StoredManifest None(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        return new StoredManifest(null, reason);
    }

    /// <inheritdoc />
    public void Dispose() => Content?.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Content?.DisposeAsync() ?? ValueTask.CompletedTask;
}
