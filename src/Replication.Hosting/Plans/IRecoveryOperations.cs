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
}
