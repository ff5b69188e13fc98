using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// The seeding and resynchronisation service (<see cref="IDiskSynchronizer"/>): one mechanism for a disk-to-disk sync
/// (<c>repl disk sync</c>), a seed or re-seed of a replica (<c>repl upload</c>) and a download of a replica into a new
/// disk. Stateless between calls; safe to share.
/// </summary>
public sealed class DiskSynchronizer : IDiskSynchronizer
{
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="timeProvider">The clock for the bandwidth limit, deadlines, back-off, checkpoints, progress and elapsed times; <see cref="TimeProvider.System"/> when null.</param>
    public DiskSynchronizer(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public Task<SyncResult> SeedAsync(
        IVirtualDisk source,
        IDiskSink destination,
        IManifestStore? manifests = null,
        SyncOptions? options = null,
        IProgress<SyncProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options = Check(source, destination, options);
        if (destination.VirtualSize < source.VirtualSize)
        {
            throw new ArgumentException(
                $"{destination.Location}: the destination ({destination.VirtualSize} bytes) is smaller than the source {source.FilePath} ({source.VirtualSize} bytes).",
                nameof(destination));
        }

        ThrowIfReadOnly(destination);
        CheckRanges(options.Ranges, Math.Min(source.VirtualSize, destination.VirtualSize), destination.Location);
        return new SyncRun(source, destination, manifests, options with { DryRun = false }, progress, _time).SeedAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task<SyncResult> ResyncAsync(
        IVirtualDisk source,
        IDiskSink destination,
        IManifestStore? manifests = null,
        SyncOptions? options = null,
        IProgress<SyncProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options = Check(source, destination, options);
        if (ReferenceEquals(source, destination))
        {
            throw new ArgumentException("The source and the destination are the same disk.", nameof(destination));
        }

        if (source.VirtualSize != destination.VirtualSize)
        {
            throw new ArgumentException(
                $"The source ({source.FilePath ?? "disk"}, {source.VirtualSize} bytes) and the destination ({destination.Location}, {destination.VirtualSize} bytes) differ in virtual size.",
                nameof(destination));
        }

        ManifestBuildRun.ThrowIfEmpty(source, nameof(source));
        if (!options.DryRun)
        {
            ThrowIfReadOnly(destination);
        }

        CheckRanges(options.Ranges, source.VirtualSize, destination.Location);
        return new SyncRun(source, destination, manifests, options, progress, _time).ResyncAsync(cancellationToken);
    }

    private static SyncOptions Check(IVirtualDisk source, IDiskSink destination, SyncOptions? options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= SyncOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        return options;
    }

    /// <summary>Refuses a destination open read-only.</summary>
    /// <exception cref="ArgumentException">It is.</exception>
    internal static void ThrowIfReadOnly(IDiskSink destination)
    {
        if (destination.IsReadOnly)
        {
            throw new ArgumentException($"{destination.Location}: the destination is open read-only.", nameof(destination));
        }
    }

    private static void CheckRanges(IReadOnlyList<DiskExtent>? ranges, long size, string location)
    {
        if (ranges is null)
        {
            return;
        }

        long previousEnd = 0;
        for (int i = 0; i < ranges.Count; i++)
        {
            DiskExtent r = ranges[i];
            if (r.Offset % 512 != 0 || r.Length % 512 != 0 || r.Length <= 0)
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
