namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>One write recorded in a log, in log order, with where its data lies in the log file.</summary>
/// <param name="Index">Position of the record in the log, from 0.</param>
/// <param name="DiskOffset">Offset of the write on the virtual disk; a multiple of 512.</param>
/// <param name="Length">Length of the write in bytes; a positive multiple of 512.</param>
/// <param name="Timestamp">Time of the write, to the second.</param>
/// <param name="FileOffset">Offset of the write's data in the log file.</param>
/// <param name="DataChecksum">The [MS-HRL] checksum of the data; 0 when the writer did not record it.</param>
public readonly record struct HrlRecord(
    long Index,
    long DiskOffset,
    long Length,
    DateTimeOffset Timestamp,
    long FileOffset,
    uint DataChecksum);
