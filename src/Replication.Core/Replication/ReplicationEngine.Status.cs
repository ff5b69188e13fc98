using System.Runtime.CompilerServices;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication.Sites;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>
    /// An item's status from its site record; with the disks' log folders at hand, also the logs waiting at the primary
    /// and the trackers' resync reasons (read without opening the disks, so a process writing them is not disturbed).
    /// </summary>
    /// <param name="site">The site.</param>
    /// <param name="name">The item.</param>
    /// <param name="logDirectories">Each disk's log folder, in disk order, or null.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when the site has no such item.</exception>
    public async Task<ItemStatus> GetStatusAsync(IReplicationSite site, string name, IReadOnlyList<string>? logDirectories = null, CancellationToken cancellationToken = default)
    {
        SiteItemRecord record = (await RequireAsync(site, name, cancellationToken).ConfigureAwait(false)).Record;
        var status = new ItemStatus(name)
        {
            State = record.State,
            TestFailoverActive = record.TestFailover is not null,
            Machine = record.Machine.ToDescription(),
            NetworkMapping = record.NetworkMapping,
            LastRecoveryPoint = record.Points.Count > 0 ? record.Points[^1].ToInfo() : null,
            ResyncRequired = record.State is ProtectionState.ResyncRequired or ProtectionState.Resynchronising,
            LastError = record.LastError is { } e ? new ReplicationException(e.Code, e.Recoverable, e.Message) : null,
            LastErrorAt = record.LastError?.At,
        };
        status.RpoSeconds = status.LastRecoveryPoint is { } last ? Math.Max(0, (_time.GetUtcNow() - last.CreatedAt).TotalSeconds) : null;
        var disks = new List<DiskStatus>();
        long? pendingTotal = logDirectories is null ? null : 0;
        for (int i = 0; i < record.Disks.Count; i++)
        {
            DiskRecord disk = record.Disks[i];
            var diskStatus = new DiskStatus(i, disk.SourcePath, disk.VirtualSize);
            if (logDirectories is not null && i < logDirectories.Count && TrackedDisk.Inspect(logDirectories[i]) is { } snapshot)
            {
                int at = disk.AppliedThrough is { } through ? snapshot.SealedLogs.ToList().FindIndex(l => l.UniqueId == through) : -1;
                long pending = snapshot.SealedLogs.Skip(at + 1).Sum(l => l.Length) + snapshot.ActiveLogBytes;
                diskStatus.PendingLogBytes = pending;
                diskStatus.ResyncReasons = snapshot.Reasons;
                pendingTotal += pending;
                status.ResyncRequired |= snapshot.Reasons != ResyncReasons.None;
            }

            disks.Add(diskStatus);
        }

        status.Disks = disks;
        status.PendingLogBytes = pendingTotal;
        return status;
    }

    /// <summary>The items a site holds, in ordinal order of their names.</summary>
    public async IAsyncEnumerable<string> ListItemsAsync(IReplicationSite site, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(site);
        await foreach (string name in site.ListItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return name;
        }
    }

    /// <summary>An item's retained recovery points, oldest first.</summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when the site has no such item.</exception>
    public async Task<IReadOnlyList<RecoveryPointInfo>> ListRecoveryPointsAsync(IReplicationSite site, string name, CancellationToken cancellationToken = default)
    {
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        return [.. handle.Record.Points.Select(p => p.ToInfo())];
    }

    /// <summary>
    /// Opens a recovery point read-only: each disk exactly as it was at the point's cut, whatever was applied since. The
    /// caller disposes the disks.
    /// </summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.NotFound"/> when there is no such item or point.</exception>
    public async Task<IReadOnlyList<IVirtualDisk>> OpenRecoveryPointAsync(IReplicationSite site, string name, string pointId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(site);
        ItemNames.Check(name);
        ArgumentException.ThrowIfNullOrEmpty(pointId);
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        return await OpenPointDisksAsync(site, name, PointOf(handle.Record, pointId), cancellationToken).ConfigureAwait(false);
    }
}
