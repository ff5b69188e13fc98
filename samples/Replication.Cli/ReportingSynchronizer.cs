using Replication.Core.Disks;
using Replication.Core.Diff;
using Replication.Core.Replication;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>
/// A <see cref="DiskSynchronizer"/> whose copies show progress when their caller passed none: the engine's failback
/// copies and a failover's recovered disks (<see cref="DiskFileOutput"/>) run through it, one bar (or line) per copy,
/// named "<c>what</c> copy N".
/// </summary>
internal sealed class ReportingSynchronizer(string what) : IDiskSynchronizer
{
    private readonly DiskSynchronizer _inner = new();
    private int _copies;

    /// <summary>An engine whose long steps show progress: its own (copies, applies) and its synchroniser's.</summary>
    public static ReplicationEngine Engine(string what) =>
        new(new ReplicationEngineOptions { Progress = ProgressDisplay.Engine() }, synchronizer: new ReportingSynchronizer(what));

    public Task<SyncResult> SeedAsync(
        IVirtualDisk source, IDiskSink destination, IManifestStore? manifests = null, SyncOptions? options = null, IProgress<SyncProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _inner.SeedAsync(source, destination, manifests, options, progress ?? Next(), cancellationToken);

    public Task<SyncResult> ResyncAsync(
        IVirtualDisk source, IDiskSink destination, IManifestStore? manifests = null, SyncOptions? options = null, IProgress<SyncProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _inner.ResyncAsync(source, destination, manifests, options, progress ?? Next(), cancellationToken);

    private IProgress<SyncProgress>? Next() => ProgressDisplay.Sync($"{what} copy {Interlocked.Increment(ref _copies)}");
}
