namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>One write recorded in a log, in log order, with where its data lies in the log file.</summary>
public readonly struct HrlRecord
{
    /// <summary>Position of the record in the log, from 0.</summary>
    public long Index { get; internal init; }

    /// <summary>Offset of the write on the virtual disk; a multiple of 512.</summary>
    public long DiskOffset { get; internal init; }

    /// <summary>Length of the write in bytes; a positive multiple of 512.</summary>
    public long Length { get; internal init; }

    /// <summary>Time of the write, to the second.</summary>
    public DateTimeOffset Timestamp { get; internal init; }

    /// <summary>Offset of the write's data in the log file.</summary>
    public long FileOffset { get; internal init; }

    /// <summary>The [MS-HRL] checksum of the data; 0 when the writer did not record it.</summary>
    public uint DataChecksum { get; internal init; }
}
