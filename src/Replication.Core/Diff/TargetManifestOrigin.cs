namespace Replication.Core.Diff;

/// <summary>Where the target's manifest used by a resync came from.</summary>
public enum TargetManifestOrigin
{
    /// <summary>Hashed from the target in this run.</summary>
    Rebuilt = 0,

    /// <summary>Loaded from the stored manifest after it passed the policy's checks.</summary>
    Verified = 1,

    /// <summary>Loaded from the stored manifest recorded in the checkpoint of an interrupted resync.</summary>
    Checkpoint = 2,
}
