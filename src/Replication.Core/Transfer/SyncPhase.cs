namespace Replication.Core.Transfer;

/// <summary>What a seed or resync (<see cref="IDiskSynchronizer"/>) is doing.</summary>
public enum SyncPhase
{
    /// <summary>Building the source's manifest.</summary>
    HashingSource = 0,

    /// <summary>Checking the destination's stored manifest on a sample of blocks.</summary>
    VerifyingTarget = 1,

    /// <summary>Building the destination's manifest from the destination.</summary>
    HashingTarget = 2,

    /// <summary>Comparing the two manifests.</summary>
    Comparing = 3,

    /// <summary>Copying ranges from the source to the destination.</summary>
    Copying = 4,

    /// <summary>Flushing the destination and storing its new manifest.</summary>
    Finalizing = 5,

    /// <summary>Done.</summary>
    Completed = 6,
}
