namespace Replication.Core.Targets;

/// <summary>
/// What a replica target requires of a replica and can do with it, so callers ask instead of testing the target's type:
/// the size a replica is rounded to, the largest one it holds, and whether recovery points are native snapshots, the
/// storage can list the pages changed between two snapshots, and zeroing a range frees its storage.
/// </summary>
public sealed class ReplicaTargetCapabilities
{
    /// <summary>Describes a target.</summary>
    /// <param name="sizeAlignment">The multiple every replica size is (512 or more, a power of two).</param>
    /// <param name="maxReplicaSize">The largest replica size the target holds, a multiple of <paramref name="sizeAlignment"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The alignment is not a power of two of at least 512, or the maximum is not a positive multiple of it.</exception>
    public ReplicaTargetCapabilities(long sizeAlignment, long maxReplicaSize)
    {
        if (sizeAlignment < 512 || !long.IsPow2(sizeAlignment))
        {
            throw new ArgumentOutOfRangeException(nameof(sizeAlignment), sizeAlignment, "The size alignment is a power of two of at least 512.");
        }

        if (maxReplicaSize <= 0 || maxReplicaSize % sizeAlignment != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxReplicaSize), maxReplicaSize, "The largest replica is a positive multiple of the size alignment.");
        }

        SizeAlignment = sizeAlignment;
        MaxReplicaSize = maxReplicaSize;
    }

    /// <summary>Every replica's size is a multiple of this (512 on a local target; 1 MiB on Azure, where a fixed VHD's disk is whole MiB).</summary>
    public long SizeAlignment { get; }

    /// <summary>The largest replica the target holds.</summary>
    public long MaxReplicaSize { get; }

    /// <summary>True when recovery points are the storage's own snapshots (cheap to create, read without the replica).</summary>
    public bool HasSnapshots { get; init; }

    /// <summary>True when the storage can list the ranges that changed between two snapshots (Get Page Ranges Diff).</summary>
    public bool HasPageRangeDiff { get; init; }

    /// <summary>True when zeroing a range of the replica frees its storage (a punched hole, cleared pages) instead of writing zeros.</summary>
    public bool FreesZeroedRanges { get; init; }

    /// <summary>The replica size for a disk of <paramref name="virtualSize"/> bytes: rounded up to <see cref="SizeAlignment"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is not positive, or the rounded size is larger than <see cref="MaxReplicaSize"/>.</exception>
    public long ReplicaSizeFor(long virtualSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(virtualSize);
        long rounded = (virtualSize + SizeAlignment - 1) / SizeAlignment * SizeAlignment;
        return rounded <= MaxReplicaSize
            ? rounded
            : throw new ArgumentOutOfRangeException(nameof(virtualSize), virtualSize, $"A replica holds at most {MaxReplicaSize} bytes here.");
    }
}
