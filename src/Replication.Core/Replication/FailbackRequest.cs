namespace Replication.Core.Replication;

/// <summary>A failback of a failed-over, committed item to the primary (or to other disks).</summary>
public sealed class FailbackRequest
{
    /// <summary>The site.</summary>
    public required Sites.IReplicationSite Site { get; init; }

    /// <summary>The item.</summary>
    public required string Name { get; init; }

    /// <summary>How to copy back.</summary>
    public FailbackMode Mode { get; init; }

    /// <summary>
    /// The disks to copy to, in disk order: the primary's disks (minimise downtime, full download) or the alternate disk
    /// files (alternate disk; created when missing, their format taken from the extension: .vhd, .vhdx, else raw).
    /// Null for the paths recorded at protection.
    /// </summary>
    public IReadOnlyList<string>? Destinations { get; init; }

    /// <summary>The recovered machine's disks, in disk order; null for those the failover recorded.</summary>
    public IReadOnlyList<string>? RecoveredDisks { get; init; }

    /// <summary>Asks the embedding product to stop the recovered machine; returns once nothing writes its disks.</summary>
    public Func<CancellationToken, ValueTask>? StopRecovered { get; init; }
}
