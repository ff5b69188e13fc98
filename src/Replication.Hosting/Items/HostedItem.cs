using Replication.Core.Replication;

namespace Replication.Hosting.Items;

/// <summary>
/// An item the host replicates, as its store keeps it: its disks at the primary, its policy, where its retry schedule
/// is, and the last state and recovery point the host saw (so <c>repl status</c> answers while the site is unreachable).
/// </summary>
public sealed class HostedItem
{
    /// <summary>The item's name at the site.</summary>
    public required string Name { get; init; }

    /// <summary>The disks' paths at the primary, in the item's disk order (each tracked in <c>PATH.logs</c>).</summary>
    public required IReadOnlyList<string> Disks { get; init; }

    /// <summary>The item's policy.</summary>
    public required ItemPolicy Policy { get; set; }

    /// <summary>Only this host runs the item's jobs (its disks are reachable from it alone); null for any host.</summary>
    public string? PinnedHost { get; set; }

    /// <summary>The host's view of its health.</summary>
    public HostedItemState State { get; set; }

    /// <summary>The engine's protection state as last seen, or null before the first job.</summary>
    public ProtectionState? ProtectionState { get; set; }

    /// <summary>Why the item is critical, or null.</summary>
    public string? CriticalReason { get; set; }

    /// <summary>When the first failure of the current run of failures happened (the retry schedule counts from it), or null.</summary>
    public DateTimeOffset? RetryFirstFailure { get; set; }

    /// <summary>Failed attempts in the current run of failures (0 after a success).</summary>
    public int RetryAttempt { get; set; }

    /// <summary>When the next attempt is due after a failure, or null.</summary>
    public DateTimeOffset? NextAttempt { get; set; }

    /// <summary>An operator asked for a resync that has not run yet (it does not wait for the window).</summary>
    public bool ResyncRequested { get; set; }

    /// <summary>The newest recovery point the host saw, or null.</summary>
    public string? LastRecoveryPointId { get; set; }

    /// <summary>When that point's cut was made, or null.</summary>
    public DateTimeOffset? LastRecoveryPointAt { get; set; }

    /// <summary>When the record last changed.</summary>
    public DateTimeOffset Updated { get; set; }

    /// <summary>Healthy again (after a success, or an operator's resume): no critical reason, the retry schedule reset.</summary>
    internal void MarkHealthy()
    {
        State = HostedItemState.Healthy;
        CriticalReason = null;
        RetryAttempt = 0;
        RetryFirstFailure = null;
        NextAttempt = null;
    }
}
