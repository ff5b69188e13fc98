namespace Replication.Core.Replication;

/// <summary>A failover of a protected item.</summary>
public sealed class FailoverRequest
{
    /// <summary>The site.</summary>
    public required Sites.IReplicationSite Site { get; init; }

    /// <summary>The item.</summary>
    public required string Name { get; init; }

    /// <summary>Test, planned or unplanned.</summary>
    public FailoverKind Kind { get; init; }

    /// <summary>The recovery point to recover (test and unplanned); null for the newest. A planned failover always recovers the final cycle's point.</summary>
    public string? PointId { get; init; }

    /// <summary>The primary, for a planned failover (its final cycle); not needed otherwise.</summary>
    public ProtectedMachine? Machine { get; init; }

    /// <summary>Asks the embedding product to shut the source machine down (planned failover); returns once it is down and nothing writes its disks.</summary>
    public Func<CancellationToken, ValueTask>? ShutdownSource { get; init; }

    /// <summary>Source network → recovery network, overriding the mapping given at protection for the networks it names.</summary>
    public IReadOnlyDictionary<string, string>? NetworkMapping { get; init; }

    /// <summary>Where the recovered machine goes.</summary>
    public required IRecoveredMachineOutput Output { get; init; }
}
