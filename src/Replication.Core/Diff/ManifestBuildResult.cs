namespace Replication.Core.Diff;

/// <summary>A built manifest and what building it cost. Disposing it disposes the manifest.</summary>
public sealed class ManifestBuildResult : IDisposable
{
    internal ManifestBuildResult(BlockManifest manifest, long bytesRead, long bytesHashed)
    {
        Manifest = manifest;
        BytesRead = bytesRead;
        BytesHashed = bytesHashed;
    }

    /// <summary>The manifest, open and validated.</summary>
    public BlockManifest Manifest { get; }

    /// <summary>Bytes read from the disk (its allocated ranges only).</summary>
    public long BytesRead { get; }

    /// <summary>Bytes of non-zero coarse blocks hashed; blocks found to be all zeros are scanned, not hashed.</summary>
    public long BytesHashed { get; }

    /// <inheritdoc />
    public void Dispose() => Manifest.Dispose();
}
