namespace Replication.Core.Replication;

/// <summary>
/// A step was asked for that the protected item's state does not allow. The message names the item, its state and
/// what is allowed in it; the same step will not succeed until the state changes.
/// </summary>
public sealed class InvalidProtectionStateException : ReplicationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="item">The item.</param>
    /// <param name="state">Its state.</param>
    /// <param name="testFailoverActive">Whether a test failover is running beside it.</param>
    /// <param name="operation">The step refused.</param>
    /// <param name="allowed">The steps allowed now.</param>
    public InvalidProtectionStateException(
        string item, ProtectionState state, bool testFailoverActive, ReplicationOperation operation, IReadOnlyList<ReplicationOperation> allowed)
        : base(
            ReplicationErrorCode.InvalidState,
            false,
            $"'{item}' is {ProtectionStateMachine.Describe(state)}{(testFailoverActive ? " with a test failover running" : "")}: {ProtectionStateMachine.Describe(operation)} is not allowed; allowed now: {(allowed.Count == 0 ? "nothing" : string.Join(", ", allowed.Select(ProtectionStateMachine.Describe)))}.")
    {
        State = state;
        Operation = operation;
        AllowedOperations = allowed;
    }

    /// <summary>The item's state.</summary>
    public ProtectionState State { get; }

    /// <summary>The step refused.</summary>
    public ReplicationOperation Operation { get; }

    /// <summary>The steps allowed in that state.</summary>
    public IReadOnlyList<ReplicationOperation> AllowedOperations { get; }
}
