using System.Collections.Frozen;

namespace Replication.Core.Replication;

/// <summary>
/// Which steps a protected item's state allows, and the one-line refusal of any other. A test failover runs beside the
/// item's state: while one is active, only its cleanup, delta cycles, resyncs and unprotecting are allowed besides.
/// </summary>
public static class ProtectionStateMachine
{
    private static readonly FrozenDictionary<ProtectionState, ReplicationOperation[]> Allowed = new Dictionary<ProtectionState, ReplicationOperation[]>
    {
        [ProtectionState.Enabling] = [ReplicationOperation.InitialReplication, ReplicationOperation.Unprotect],
        [ProtectionState.InitialReplication] = [ReplicationOperation.InitialReplication, ReplicationOperation.Unprotect],
        [ProtectionState.Protected] =
        [
            ReplicationOperation.DeltaCycle, ReplicationOperation.Resync, ReplicationOperation.TestFailover, ReplicationOperation.PlannedFailover,
            ReplicationOperation.UnplannedFailover, ReplicationOperation.Unprotect,
        ],
        [ProtectionState.ResyncRequired] =
        [
            ReplicationOperation.Resync, ReplicationOperation.TestFailover, ReplicationOperation.UnplannedFailover, ReplicationOperation.Unprotect,
        ],
        [ProtectionState.Resynchronising] =
        [
            ReplicationOperation.Resync, ReplicationOperation.TestFailover, ReplicationOperation.UnplannedFailover, ReplicationOperation.Unprotect,
        ],
        [ProtectionState.Critical] =
        [
            ReplicationOperation.Resume, ReplicationOperation.Resync, ReplicationOperation.TestFailover, ReplicationOperation.UnplannedFailover,
            ReplicationOperation.Unprotect,
        ],
        [ProtectionState.FailoverInProgress] =
        [
            ReplicationOperation.PlannedFailover, ReplicationOperation.UnplannedFailover, ReplicationOperation.CancelFailover,
        ],
        [ProtectionState.FailedOver] =
        [
            ReplicationOperation.Commit, ReplicationOperation.ChangeRecoveryPoint, ReplicationOperation.CancelFailover,
        ],
        [ProtectionState.Committed] = [ReplicationOperation.Failback, ReplicationOperation.Unprotect],
        [ProtectionState.FailbackInProgress] = [ReplicationOperation.Failback],
        [ProtectionState.FailedBack] = [ReplicationOperation.ReverseReplication, ReplicationOperation.Unprotect],
        [ProtectionState.ReverseReplication] = [ReplicationOperation.ReverseReplication, ReplicationOperation.Resync, ReplicationOperation.Unprotect],
    }.ToFrozenDictionary();

    private static readonly ReplicationOperation[] BesideTestFailover =
    [
        ReplicationOperation.TestFailoverCleanup, ReplicationOperation.DeltaCycle, ReplicationOperation.Resync, ReplicationOperation.Resume,
        ReplicationOperation.InitialReplication, ReplicationOperation.Unprotect,
    ];

    /// <summary>The steps allowed in <paramref name="state"/>, with or without a test failover running.</summary>
    public static IReadOnlyList<ReplicationOperation> AllowedIn(ProtectionState state, bool testFailoverActive) =>
        testFailoverActive
            ? [.. Allowed[state].Where(BesideTestFailover.Contains).Append(ReplicationOperation.TestFailoverCleanup).Distinct()]
            : Allowed[state];

    /// <summary>True when <paramref name="operation"/> may run in <paramref name="state"/>.</summary>
    public static bool IsAllowed(ProtectionState state, bool testFailoverActive, ReplicationOperation operation) =>
        AllowedIn(state, testFailoverActive).Contains(operation);

    /// <summary>Throws <see cref="InvalidProtectionStateException"/> unless <paramref name="operation"/> may run now.</summary>
    /// <param name="item">The item's name, for the message.</param>
    /// <param name="state">Its state.</param>
    /// <param name="testFailoverActive">Whether a test failover is running beside it.</param>
    /// <param name="operation">The step asked for.</param>
    public static void EnsureAllowed(string item, ProtectionState state, bool testFailoverActive, ReplicationOperation operation)
    {
        if (!IsAllowed(state, testFailoverActive, operation))
        {
            throw new InvalidProtectionStateException(item, state, testFailoverActive, operation, AllowedIn(state, testFailoverActive));
        }
    }

    /// <summary>A step's name as operators read it ("planned failover").</summary>
    public static string Describe(ReplicationOperation operation) => operation switch
    {
        ReplicationOperation.InitialReplication => "initial replication",
        ReplicationOperation.DeltaCycle => "replicate",
        ReplicationOperation.Resync => "resync",
        ReplicationOperation.Resume => "resume",
        ReplicationOperation.TestFailover => "test failover",
        ReplicationOperation.TestFailoverCleanup => "test failover cleanup",
        ReplicationOperation.PlannedFailover => "planned failover",
        ReplicationOperation.UnplannedFailover => "unplanned failover",
        ReplicationOperation.ChangeRecoveryPoint => "change recovery point",
        ReplicationOperation.CancelFailover => "cancel failover",
        ReplicationOperation.Commit => "commit",
        ReplicationOperation.Failback => "failback",
        ReplicationOperation.ReverseReplication => "reverse replication",
        ReplicationOperation.Unprotect => "unprotect",
        _ => operation.ToString(),
    };

    /// <summary>A state's name as operators read it ("resync required").</summary>
    public static string Describe(ProtectionState state) => state switch
    {
        ProtectionState.InitialReplication => "initial replication",
        ProtectionState.ResyncRequired => "resync required",
        ProtectionState.FailoverInProgress => "failover in progress",
        ProtectionState.FailedOver => "failed over",
        ProtectionState.FailbackInProgress => "failback in progress",
        ProtectionState.FailedBack => "failed back",
        ProtectionState.ReverseReplication => "reverse replication",
        _ => state.ToString().ToLowerInvariant(),
    };
}
