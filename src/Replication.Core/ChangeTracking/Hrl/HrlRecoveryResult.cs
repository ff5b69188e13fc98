namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// What <see cref="HrlReader.Recover"/> found: the longest valid prefix of a log (header plus a chain of complete,
/// verified metadata blocks), and how much of the file lies beyond it.
/// </summary>
/// <param name="ValidLength">
/// Offset where the valid prefix ends: the end of its last metadata block, or the header size when no block is valid.
/// Serves as the end of the log for <see cref="HrlReader.ReadRecords(HrlRecoveryResult)"/>.
/// </param>
/// <param name="FileLength">Length of the file when it was scanned.</param>
/// <param name="BlockCount">Metadata blocks in the valid prefix.</param>
/// <param name="RecordCount">Records (entries) in the valid prefix.</param>
public readonly record struct HrlRecoveryResult(long ValidLength, long FileLength, long BlockCount, long RecordCount)
{
    /// <summary>Bytes after the valid prefix: a torn or uncommitted tail (0 when the whole file is valid).</summary>
    public long TornBytes => FileLength - ValidLength;

    /// <summary>True when bytes follow the valid prefix.</summary>
    public bool HasTornTail => TornBytes > 0;
}
