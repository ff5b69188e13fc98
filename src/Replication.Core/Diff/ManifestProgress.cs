namespace Replication.Core.Diff;

/// <summary>How far a manifest build has got.</summary>
/// <param name="BytesProcessed">Bytes of the virtual disk whose blocks are hashed or known to be zero.</param>
/// <param name="TotalBytes">The virtual size of the disk.</param>
/// <param name="BytesRead">Bytes read from the disk so far (ranges the format knows are zero are not read).</param>
/// <param name="BytesHashed">Bytes of non-zero blocks hashed so far.</param>
public readonly record struct ManifestProgress(long BytesProcessed, long TotalBytes, long BytesRead, long BytesHashed);
