using Replication.Core.Replication;

namespace Replication.Hosting.Operations;

/// <summary>What one run of an item did, as the host records it.</summary>
public sealed class ItemRunOutcome
{
    /// <summary>What ran.</summary>
    public required ReplicationAction Action { get; init; }

    /// <summary>The item's protection state after the run.</summary>
    public required ProtectionState State { get; init; }

    /// <summary>The recovery point the run made, or null.</summary>
    public string? RecoveryPointId { get; init; }

    /// <summary>When that point's cut was made, or null.</summary>
    public DateTimeOffset? RecoveryPointAt { get; init; }

    /// <summary>Payload bytes sent to the site.</summary>
    public long BytesSent { get; init; }

    /// <summary>The outcome of an engine run.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="result"/> is null.</exception>
    public static ItemRunOutcome From(ReplicationRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new ItemRunOutcome
        {
            Action = result.Action,
            State = result.State,
            RecoveryPointId = result.RecoveryPoint?.Id,
            RecoveryPointAt = result.RecoveryPoint?.CreatedAt,
            BytesSent = result.BytesSent,
        };
    }
}
