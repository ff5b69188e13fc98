namespace Replication.Core.ChangeTracking;

/// <summary>A sealed log of a tracked disk, kept until released: durable, with its integrity hash.</summary>
public sealed class SealedLog
{
    internal SealedLog(long sequenceNumber, Guid uniqueId, Guid previousUniqueId, string path, long length, UInt128 hash, long recordCount, long dataBytes)
    {
        SequenceNumber = sequenceNumber;
        UniqueId = uniqueId;
        PreviousUniqueId = previousUniqueId;
        Path = path;
        Length = length;
        Hash = hash;
        RecordCount = recordCount;
        DataBytes = dataBytes;
    }

    /// <summary>Position of the log in the disk's chain, from 1, increasing by one per log.</summary>
    public long SequenceNumber { get; }

    /// <summary>The log's <c>UniqueId</c>.</summary>
    public Guid UniqueId { get; }

    /// <summary>The <c>UniqueId</c> of the log before it (<see cref="Guid.Empty"/> for the first).</summary>
    public Guid PreviousUniqueId { get; }

    /// <summary>Full path of the log file; its integrity sidecar is beside it (<c>.xxh128</c>).</summary>
    public string Path { get; }

    /// <summary>Length of the file.</summary>
    public long Length { get; }

    /// <summary>XxHash128 of the whole file, as its sidecar records.</summary>
    public UInt128 Hash { get; }

    /// <summary>Writes recorded.</summary>
    public long RecordCount { get; }

    /// <summary>Bytes of data in the records.</summary>
    public long DataBytes { get; }
}
