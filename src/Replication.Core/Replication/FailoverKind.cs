namespace Replication.Core.Replication;

/// <summary>What kind of failover.</summary>
public enum FailoverKind
{
    /// <summary>A writable, disposable copy of a recovery point, while replication goes on; ended by a cleanup.</summary>
    Test,

    /// <summary>The source is shut down, a final cycle runs, and the recovery side takes over with nothing lost.</summary>
    Planned,

    /// <summary>The primary is lost (or not needed): the newest recovery point, or a chosen one, takes over.</summary>
    Unplanned,
}
