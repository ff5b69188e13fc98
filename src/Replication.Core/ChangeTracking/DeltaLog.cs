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
public sealed class DeltaLog : IDeltaLog
{
    private const int ChunkSize = 1 << 20;
    private const int SectorSize = 512;

    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="timeProvider">The clock for the logs' time stamps; <see cref="TimeProvider.System"/> when null.</param>
    public DeltaLog(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public async Task<DeltaLogResult> CreateAsync(
        IVirtualDisk oldDisk,
        IVirtualDisk newDisk,
        string path,
        Guid previousUniqueId = default,
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
            using (HrlWriter writer = HrlWriter.Create(partial, identity, _time))
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
        return new DeltaLogResult
        {
            Path = final,
            UniqueId = identity.UniqueId,
            PreviousUniqueId = previousUniqueId,
            RecordCount = records,
            DataBytes = dataBytes,
            ComparedBytes = compared,
            Length = sidecar.LogLength,
            Hash = sidecar.Hash,
        };
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

/// <summary>What <see cref="IDeltaLog.CreateAsync"/> wrote.</summary>
public sealed class DeltaLogResult
{
    internal DeltaLogResult()
    {
    }

    /// <summary>Full path of the sealed log (its sidecar is beside it).</summary>
    public string Path { get; internal init; } = "";

    /// <summary>The log's <c>UniqueId</c>.</summary>
    public Guid UniqueId { get; internal init; }

    /// <summary>The log's <c>PreviousUniqueId</c>.</summary>
    public Guid PreviousUniqueId { get; internal init; }

    /// <summary>Runs of differing sectors.</summary>
    public long RecordCount { get; internal init; }

    /// <summary>Bytes that differ (whole sectors).</summary>
    public long DataBytes { get; internal init; }

    /// <summary>Bytes read from each disk (ranges where neither holds data are skipped).</summary>
    public long ComparedBytes { get; internal init; }

    /// <summary>Length of the log file.</summary>
    public long Length { get; internal init; }

    /// <summary>XxHash128 of the log file.</summary>
    public UInt128 Hash { get; internal init; }
}
