namespace Replication.Core.Diff;

/// <summary>What a resync is doing.</summary>
public enum ResyncPhase
{
    /// <summary>Building the source's manifest.</summary>
    HashingSource = 0,

    /// <summary>Checking the target's stored manifest on a sample of blocks.</summary>
    VerifyingTarget = 1,

    /// <summary>Building the target's manifest from the target.</summary>
    HashingTarget = 2,

    /// <summary>Comparing the two manifests.</summary>
    Comparing = 3,

    /// <summary>Copying differing ranges from source to target.</summary>
    Copying = 4,

    /// <summary>Flushing the target and storing its new manifest.</summary>
    Finalizing = 5,

    /// <summary>Done.</summary>
    Completed = 6,
}
