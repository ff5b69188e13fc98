using System.Buffers;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// Writes the difference between two disks as one sealed HRL log: exactly the 512-byte sectors that differ, with the
/// new disk's data, so applying the log to a copy of the old disk gives the new one. A portable delta, for seeding a
/// site offline or checking a replica.
/// </summary>
public static class DeltaLog
{
    private const int ChunkSize = 1 << 20;
    private const int SectorSize = 512;

    /// <summary>
    /// Compares <paramref name="oldDisk"/> with <paramref name="newDisk"/> and writes the sectors that differ to a new
    /// sealed log at <paramref name="path"/>, with its integrity sidecar. Only ranges that may hold data on either disk
    /// are read. Records are runs of differing sectors, at most 1 MiB each, ascending. The log is written beside its
    /// final path and renamed into place once sealed, so the path never holds a partial log.
    /// </summary>
    /// <param name="oldDisk">The disk the log applies to.</param>
    /// <param name="newDisk">The disk the log leads to; same size.</param>
    /// <param name="path">The log to create; it must not exist.</param>
    /// <param name="previousUniqueId">The <c>UniqueId</c> of the log this one follows (<see cref="Guid.Empty"/> for none).</param>
    /// <param name="timeProvider">The clock for time stamps; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="cancellationToken">Cancels the comparison; nothing is left at <paramref name="path"/>.</param>
    /// <returns>The sealed log.</returns>
    /// <exception cref="ArgumentException">The disks differ in size.</exception>
    /// <exception cref="IOException">The log already exists.</exception>
    public static async Task<DeltaLogResult> CreateAsync(
        IVirtualDisk oldDisk,
        IVirtualDisk newDisk,
        string path,
        Guid previousUniqueId = default,
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(oldDisk);
        ArgumentNullException.ThrowIfNull(newDisk);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (oldDisk.VirtualSize != newDisk.VirtualSize)
        {
            throw new ArgumentException($"The disks differ in size: {oldDisk.VirtualSize} and {newDisk.VirtualSize} bytes.", nameof(newDisk));
        }

        string final = Path.GetFullPath(path);
        if (File.Exists(final))
        {
            throw new IOException($"{final}: the file already exists.");
        }

        string partial = final + HrlFormat.PartialSuffix;
        File.Delete(partial);
        var identity = new HrlLogIdentity(Guid.NewGuid(), previousUniqueId, newDisk.DataWriteGuid ?? Guid.Empty);
        byte[] before = ArrayPool<byte>.Shared.Rent(ChunkSize);
        byte[] after = ArrayPool<byte>.Shared.Rent(ChunkSize);
        long records = 0;
        long dataBytes = 0;
        long compared = 0;
        try
        {
            using (HrlWriter writer = HrlWriter.Create(partial, identity, timeProvider ?? TimeProvider.System))
            {
                foreach (DiskExtent range in RangesToCompare(oldDisk, newDisk))
                {
                    for (long offset = range.Offset; offset < range.End; offset += ChunkSize)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int length = (int)Math.Min(ChunkSize, range.End - offset);
                        await oldDisk.ReadAsync(offset, before.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                        await newDisk.ReadAsync(offset, after.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                        compared += length;
                        int run = -1;
                        for (int sector = 0; sector <= length; sector += SectorSize)
                        {
                            bool differs = sector < length &&
                                !before.AsSpan(sector, SectorSize).SequenceEqual(after.AsSpan(sector, SectorSize));
                            if (differs && run < 0)
                            {
                                run = sector;
                            }
                            else if (!differs && run >= 0)
                            {
                                writer.Append(offset + run, after.AsSpan(run, sector - run));
                                records++;
                                dataBytes += sector - run;
                                run = -1;
                            }
                        }
                    }
                }

                writer.Seal();
            }

            DurableFile.Move(partial, final, overwrite: false);
        }
        catch (Exception)
        {
            File.Delete(partial);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(before);
            ArrayPool<byte>.Shared.Return(after);
        }

        HrlSidecar sidecar = HrlIntegrity.WriteSidecar(final, cancellationToken);
        return new DeltaLogResult(final, identity.UniqueId, previousUniqueId, records, dataBytes, compared, sidecar.LogLength, sidecar.Hash);
    }

    /// <summary>Sector-aligned union of the ranges that may hold data on either disk: elsewhere both read as zeros.</summary>
    private static List<DiskExtent> RangesToCompare(IVirtualDisk a, IVirtualDisk b)
    {
        long size = a.VirtualSize;
        IEnumerable<DiskExtent> both = a.GetAllocatedExtents(0, size).Concat(b.GetAllocatedExtents(0, size))
            .Select(e =>
            {
                long start = e.Offset / SectorSize * SectorSize;
                long end = Math.Min(size, (e.End + SectorSize - 1) / SectorSize * SectorSize);
                return new DiskExtent(start, end - start);
            });
        return ChangeTrackingState.Merge(both);
    }
}

/// <summary>What <see cref="DeltaLog.CreateAsync"/> wrote.</summary>
/// <param name="Path">Full path of the sealed log (its sidecar is beside it).</param>
/// <param name="UniqueId">The log's <c>UniqueId</c>.</param>
/// <param name="PreviousUniqueId">The log's <c>PreviousUniqueId</c>.</param>
/// <param name="RecordCount">Runs of differing sectors.</param>
/// <param name="DataBytes">Bytes that differ (whole sectors).</param>
/// <param name="ComparedBytes">Bytes read from each disk (ranges where neither holds data are skipped).</param>
/// <param name="Length">Length of the log file.</param>
/// <param name="Hash">XxHash128 of the log file.</param>
public sealed record DeltaLogResult(
    string Path,
    Guid UniqueId,
    Guid PreviousUniqueId,
    long RecordCount,
    long DataBytes,
    long ComparedBytes,
    long Length,
    UInt128 Hash);
