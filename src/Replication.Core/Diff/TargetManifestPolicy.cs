namespace Replication.Core.Diff;

/// <summary>When a resync may trust the manifest stored beside the target instead of hashing the whole target.</summary>
public enum TargetManifestPolicy
{
    /// <summary>
    /// Trust a stored manifest when it is intact, has the right geometry, its stamp matches the target (file identities,
    /// lengths, modification and change times, DataWriteGuids) and a random sample of its coarse blocks re-hashed from the target matches;
    /// otherwise rebuild it from the target. The default.
    /// </summary>
    VerifyStampAndSample = 0,

    /// <summary>
    /// Trust a stored manifest when it is intact and a random sample of its coarse blocks re-hashed from the target
    /// matches, even when the stamp differs (for a target whose files were copied or touched). A change outside the
    /// sample goes unnoticed: use only when the manifest is known to follow every write to the target.
    /// </summary>
    VerifySample = 1,

    /// <summary>Always hash the whole target; any stored manifest is replaced.</summary>
    Rebuild = 2,
}
