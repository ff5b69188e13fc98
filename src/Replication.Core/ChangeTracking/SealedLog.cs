namespace Replication.Core.ChangeTracking;

/// <summary>A sealed log of a tracked disk, kept until released: durable, with its integrity hash.</summary>
/// <param name="SequenceNumber">Position of the log in the disk's chain, from 1, increasing by one per log.</param>
/// <param name="UniqueId">The log's <c>UniqueId</c>.</param>
/// <param name="PreviousUniqueId">The <c>UniqueId</c> of the log before it (<see cref="Guid.Empty"/> for the first).</param>
/// <param name="Path">Full path of the log file; its integrity sidecar is beside it (<c>.xxh128</c>).</param>
/// <param name="Length">Length of the file.</param>
/// <param name="Hash">XxHash128 of the whole file, as its sidecar records.</param>
/// <param name="RecordCount">Writes recorded.</param>
/// <param name="DataBytes">Bytes of data in the records.</param>
public sealed record SealedLog(
    long SequenceNumber,
    Guid UniqueId,
    Guid PreviousUniqueId,
    string Path,
    long Length,
    UInt128 Hash,
    long RecordCount,
    long DataBytes);
