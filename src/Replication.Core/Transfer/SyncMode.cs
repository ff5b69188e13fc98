namespace Replication.Core.Transfer;

/// <summary>How <see cref="IDiskSynchronizer"/> brought a destination up to date.</summary>
public enum SyncMode
{
    /// <summary>Every allocated range of the source (or of the ranges asked for) was copied.</summary>
    Full,

    /// <summary>Only the ranges whose block hashes differ from the destination's manifest were copied.</summary>
    ByManifest,
}
