using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>
    /// How long before the first pass the recovered disk's file must have last changed for its stamp to be trusted by the
    /// last pass, on a file system that keeps times finer than a second: a write after the stamp then gets later times
    /// (the kernel stamps writes from a clock that lags by at most a tick, 10 ms at the slowest), so an equal stamp means
    /// no write.
    /// </summary>
    private static readonly TimeSpan SettledAge = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The same when the file's modification time is a whole second: the file system may keep times to the second or to
    /// two seconds (FAT), and a write within that step could keep them.
    /// </summary>
    private static readonly TimeSpan SettledAgeWholeSeconds = TimeSpan.FromSeconds(3);

    /// <summary>
    /// True when a file last changed at <paramref name="changed"/> has settled at <paramref name="now"/> (both on the
    /// system clock): any write after now is sure to give it different times. A time ahead of now never has.
    /// </summary>
    internal static bool IsSettled(DateTime changed, DateTime now)
    {
        TimeSpan needed = changed.Ticks % TimeSpan.TicksPerSecond == 0 ? SettledAgeWholeSeconds : SettledAge;
        return now - changed >= needed;
    }

    /// <summary>
    /// The recovered disk's stamp taken before the first pass hashes it, when the last pass may trust it: null when the
    /// disk has a parent (its parent's files are outside the stamp's reach for this purpose), the stamp is unknown, or
    /// the file has not settled (<see cref="IsSettled"/>: a write now could keep the same times).
    /// </summary>
    private static DiskStamp? StampBeforeFirstPass(string source)
    {
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        if (disk.Parent is not null)
        {
            return null;
        }

        // The stamp first, the file's age after it: a write in between makes the file young, and the stamp is not used.
        DiskStamp stamp = DiskStamp.Of(disk);
        DateTime changed = File.GetLastWriteTimeUtc(source);

        // The file system's times come from the system clock, never from the engine's (a test's clock may be anywhere).
        DateTime now = TimeProvider.System.GetUtcNow().UtcDateTime;
        return stamp.IsKnown && IsSettled(changed, now) ? stamp : null;
    }

    /// <summary>
    /// True when the last pass has nothing to do: the recovered disk's stamp is still the one taken before the first pass
    /// (so it was not written since, and the first pass's manifest describes it), the destination's manifest stored by the
    /// first pass is current for it by stamp, and a sample of coarse blocks of both disks re-hashes to that manifest. Any
    /// doubt answers false, and the caller runs the full compare.
    /// </summary>
    private async Task<bool> UnchangedSinceFirstPassAsync(string source, string destination, DiskStamp before, CancellationToken cancellationToken)
    {
        using VirtualDisk from = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        if (DiskStamp.Of(from) != before)
        {
            return false;
        }

        string path = destination + FailbackManifestSuffix;
        if (!File.Exists(path))
        {
            return false;
        }

        using VirtualDisk to = VirtualDisk.Open(destination, DiskOpenOptions.ReadOnlyAccess);
        BlockManifest manifest;
        try
        {
            manifest = BlockManifest.Open(path);
        }
        catch (InvalidManifestException)
        {
            return false;
        }

        using (manifest)
        {
            ManifestOptions geometry = ManifestOptions.Default;
            if (!manifest.IsCurrentFor(to) || manifest.VirtualSize != from.VirtualSize || manifest.VirtualSize != to.VirtualSize
                || manifest.CoarseBlockSize != geometry.CoarseBlockSize || manifest.FineBlockSize != geometry.FineBlockSize)
            {
                return false;
            }

            // A random sample of coarse blocks (the resync's default fraction, at least 16) re-hashed on both disks.
            return await SyncRun.FindSampleMismatchAsync(manifest, [from, to], SyncOptions.DefaultSampleFraction, Random.Shared, null, cancellationToken).ConfigureAwait(false) is null;
        }
    }
}
