using Replication.Core.Disks;
using Replication.Core.Targets;

namespace Replication.Core.Transfer;

/// <summary>
/// Moves ranges of a disk to a replica (or a replica to a disk) fast, resumably and honestly: reads with pooled
/// buffers into writes of at most 4 MiB aligned to 512 bytes, clears all-zero runs instead of sending them, keeps a
/// bounded number of requests in flight, optionally caps bandwidth, retries transient failures per request, reports
/// progress, and checkpoints durably so an interrupted transfer resumes where it stopped.
/// </summary>
/// <remarks>
/// Every write is idempotent (the same bytes to the same offset), so a retried request or a resumed run that repeats
/// work past its checkpoint converges to the same replica. Buffers in use: about
/// <see cref="TransferOptions.MaxConcurrency"/> × <see cref="TransferOptions.MaxWriteSize"/>.
/// </remarks>
public static class TransferPipeline
{
    /// <summary>
    /// Makes the whole replica equal to <paramref name="source"/> (and zero beyond the source's end when the replica is
    /// larger). Only the source's allocated ranges are read; zero runs are cleared, or skipped when
    /// <see cref="TransferOptions.DestinationKnownZero"/>. The replica is flushed before this returns.
    /// </summary>
    /// <returns>What this run read, sent and skipped.</returns>
    /// <exception cref="ArgumentException">The replica is smaller than the source.</exception>
    /// <exception cref="ReplicationException">
    /// A non-recoverable failure (fence lost, bad credentials, missing container) at once; a recoverable one once a
    /// request has used all its attempts.
    /// </exception>
    /// <exception cref="OperationCanceledException">Cancelled; the checkpoint, if any, has been saved first.</exception>
    public static Task<TransferResult> SeedAsync(
        IVirtualDisk source,
        IReplicaWriter destination,
        TransferOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        CheckSizes(source, destination.VirtualSize, destination.Location);
        var engine = new TransferEngine(source, new ReplicaWriterSink(destination), destination, [new DiskExtent(0, destination.VirtualSize)], options ?? TransferOptions.Default);
        return engine.RunAsync(cancellationToken);
    }

    /// <summary>
    /// Makes the given ranges of the replica equal to the same ranges of <paramref name="source"/> (a resynchronisation
    /// diff, or the ranges of a coalesced log). Ranges must be ascending, non-overlapping, aligned to 512 bytes and
    /// inside both disks. The replica is flushed before this returns.
    /// </summary>
    /// <exception cref="ArgumentException">A range is unaligned, out of order, overlapping or outside a disk.</exception>
    /// <exception cref="ReplicationException">As for <see cref="SeedAsync"/>.</exception>
    public static Task<TransferResult> CopyRangesAsync(
        IVirtualDisk source,
        IReplicaWriter destination,
        IReadOnlyList<DiskExtent> ranges,
        TransferOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(ranges);
        CheckRanges(ranges, Math.Min(source.VirtualSize, destination.VirtualSize), destination.Location);
        var engine = new TransferEngine(source, new ReplicaWriterSink(destination), destination, ranges, options ?? TransferOptions.Default);
        return engine.RunAsync(cancellationToken);
    }

    /// <summary>
    /// Copies all of <paramref name="source"/> (a replica or recovery point opened from a target) into
    /// <paramref name="destination"/>, reading in parallel with retries. Set
    /// <see cref="TransferOptions.DestinationKnownZero"/> for a new destination so zero runs are not written. The
    /// destination is flushed before this returns.
    /// </summary>
    /// <exception cref="ArgumentException">The destination is smaller than the source.</exception>
    public static Task<TransferResult> DownloadAsync(
        IVirtualDisk source,
        IVirtualDisk destination,
        TransferOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        CheckSizes(source, destination.VirtualSize, destination.FilePath ?? "destination");
        var engine = new TransferEngine(source, new VirtualDiskSink(destination), null, [new DiskExtent(0, source.VirtualSize)], options ?? TransferOptions.Default);
        return engine.RunAsync(cancellationToken);
    }

    private static void CheckSizes(IVirtualDisk source, long destinationSize, string location)
    {
        if (destinationSize < source.VirtualSize)
        {
            throw new ArgumentException(
                $"{location}: the destination ({destinationSize} bytes) is smaller than the source {source.FilePath} ({source.VirtualSize} bytes).",
                nameof(source));
        }
    }

    private static void CheckRanges(IReadOnlyList<DiskExtent> ranges, long size, string location)
    {
        long previousEnd = 0;
        for (int i = 0; i < ranges.Count; i++)
        {
            DiskExtent r = ranges[i];
            if (r.Offset % ReplicaRequests.SectorSize != 0 || r.Length % ReplicaRequests.SectorSize != 0 || r.Length <= 0)
            {
                throw new ArgumentException($"{location}: range {i} [{r.Offset}, {r.End}) is empty or not aligned to 512-byte sectors.", nameof(ranges));
            }

            if (r.Offset < previousEnd)
            {
                throw new ArgumentException($"{location}: range {i} [{r.Offset}, {r.End}) overlaps or precedes the range before it.", nameof(ranges));
            }

            if (r.Offset > size || r.Length > size - r.Offset)
            {
                throw new ArgumentException($"{location}: range {i} [{r.Offset}, {r.End}) is outside the disks ({size} bytes).", nameof(ranges));
            }

            previousEnd = r.End;
        }
    }
}
