namespace Replication.Core.ChangeTracking;

/// <summary>A sealed log of a tracked disk, kept until released: durable, with its integrity hash.</summary>
public sealed class SealedLog
{
    private readonly TrackedLogEntry _entry;

    internal SealedLog(in TrackedLogEntry entry, string path)
    {
        _entry = entry;
        Path = path;
    }

    /// <summary>Position of the log in the disk's chain, from 1, increasing by one per log.</summary>
    public long SequenceNumber => _entry.Sequence;

    /// <summary>The log's <c>UniqueId</c>.</summary>
    public Guid UniqueId => _entry.UniqueId;

    /// <summary>The <c>UniqueId</c> of the log before it (<see cref="Guid.Empty"/> for the first).</summary>
    public Guid PreviousUniqueId => _entry.PreviousUniqueId;

    /// <summary>Full path of the log file; its integrity sidecar is beside it (<c>.xxh128</c>).</summary>
    public string Path { get; }

    /// <summary>Length of the file.</summary>
    public long Length => _entry.Length;

    /// <summary>XxHash128 of the whole file, as its sidecar records.</summary>
    public UInt128 Hash => _entry.Hash;

    /// <summary>Writes recorded.</summary>
    public long RecordCount => _entry.RecordCount;

    /// <summary>Bytes of data in the records.</summary>
    public long DataBytes => _entry.DataBytes;
}
