namespace Replication.Core.Replication;

/// <summary>What a failover did.</summary>
public sealed class FailoverResult
{
    internal FailoverResult(RecoveredMachine machine, ProtectionState state, long finalCycleBytes)
    {
        Machine = machine;
        State = state;
        FinalCycleBytes = finalCycleBytes;
    }

    /// <summary>The recovered machine.</summary>
    public RecoveredMachine Machine { get; }

    /// <summary>The item's state after it.</summary>
    public ProtectionState State { get; }

    /// <summary>Bytes the final cycle of a planned failover sent (0 otherwise).</summary>
    public long FinalCycleBytes { get; }
}
