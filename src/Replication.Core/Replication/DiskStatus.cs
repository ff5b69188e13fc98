using Replication.Core.ChangeTracking;

namespace Replication.Core.Replication;

/// <summary>One disk of a protected item.</summary>
public sealed class DiskStatus
{
    internal DiskStatus(int index, string sourcePath, long virtualSize)
    {
        Index = index;
        SourcePath = sourcePath;
        VirtualSize = virtualSize;
    }

    /// <summary>The disk's index in the item.</summary>
    public int Index { get; }

    /// <summary>The disk's path at the primary when protection was enabled.</summary>
    public string SourcePath { get; }

    /// <summary>Its virtual size.</summary>
    public long VirtualSize { get; }

    /// <summary>Bytes of sealed logs not yet applied at the site, when the disk is at hand.</summary>
    public long? PendingLogBytes { get; internal set; }

    /// <summary>Why the tracker asks for a resync, when the disk is at hand.</summary>
    public ResyncReasons ResyncReasons { get; internal set; }
}
