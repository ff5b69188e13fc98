using Replication.Core.Replication;
using Replication.Hosting.Items;

namespace Replication.Hosting.Plans;

/// <summary>
/// What a recovery plan asks of the engine for one item. The default runs <see cref="ReplicationEngine"/> against the
/// host's site; a test or an embedding product may supply its own. Failures are thrown (a
/// <see cref="Core.ReplicationException"/> names what failed); each returns the item's protection state after it.
/// </summary>
public interface IRecoveryOperations
{
    /// <summary>Fails the item over (test, planned or unplanned) to where <see cref="RecoveryPlanRunOptions.Output"/> says.</summary>
    Task<ProtectionState> FailoverAsync(HostedItem item, FailoverKind kind, RecoveryPlanRunOptions options, CancellationToken cancellationToken);

    /// <summary>Removes the item's test failover.</summary>
    Task<ProtectionState> CleanupTestFailoverAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken);

    /// <summary>Commits the item's failover.</summary>
    Task<ProtectionState> CommitAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken);

    /// <summary>Fails the committed item back to its primary disks, by <see cref="RecoveryPlanRunOptions.FailbackMode"/>.</summary>
    Task<ProtectionState> FailbackAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken);

    /// <summary>Protects the failed-back item again.</summary>
    Task<ProtectionState> ReverseReplicationAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Asked when a run interrupted by a stop of the host is resumed: the item's state when the site shows
    /// <paramref name="operation"/> complete for it (the host stopped after the operation and before recording it), so it
    /// is not done a second time; null when it must run (again). The default is null: the operation runs again, and the
    /// implementation's operations must then converge when repeated.
    /// </summary>
    Task<ProtectionState?> CompletedStateAsync(HostedItem item, RecoveryPlanOperation operation, CancellationToken cancellationToken) =>
        Task.FromResult<ProtectionState?>(null);
}
