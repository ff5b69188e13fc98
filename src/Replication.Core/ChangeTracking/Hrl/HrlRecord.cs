namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>One write recorded in a log, in log order, with where its data lies in the log file.</summary>
public readonly struct HrlRecord
{
    internal HrlRecord(long index, long diskOffset, long length, DateTimeOffset timestamp, long fileOffset, uint dataChecksum)
    {
        Index = index;
        DiskOffset = diskOffset;
        Length = length;
        Timestamp = timestamp;
        FileOffset = fileOffset;
        DataChecksum = dataChecksum;
    }

    /// <summary>Position of the record in the log, from 0.</summary>
    public long Index { get; }

    /// <summary>Offset of the write on the virtual disk; a multiple of 512.</summary>
    public long DiskOffset { get; }

    /// <summary>Length of the write in bytes; a positive multiple of 512.</summary>
    public long Length { get; }

    /// <summary>Time of the write, to the second.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Offset of the write's data in the log file.</summary>
    public long FileOffset { get; }

    /// <summary>The [MS-HRL] checksum of the data; 0 when the writer did not record it.</summary>
    public uint DataChecksum { get; }
}
