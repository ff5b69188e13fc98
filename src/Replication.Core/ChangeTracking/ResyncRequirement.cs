using Replication.Core.Disks;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// Whether, why and where a tracked disk's replica must be resynchronised: the typed state the engine acts on.
/// </summary>
/// <remarks>
/// When <see cref="WholeDisk"/> is false, the replica (every sealed log applied) can differ from the disk only inside
/// <see cref="Ranges"/>, so a resync needs to compare only those. Immutable.
/// </remarks>
public sealed class ResyncRequirement
{
    internal ResyncRequirement(ResyncReasons reasons, bool wholeDisk, IReadOnlyList<DiskExtent> ranges, long generation)
    {
        Reasons = reasons;
        WholeDisk = wholeDisk;
        Ranges = ranges;
        Generation = generation;
    }

    /// <summary>No resync required.</summary>
    public static ResyncRequirement None { get; } = new(ResyncReasons.None, false, [], 0);

    /// <summary>True when any reason applies.</summary>
    public bool IsRequired => Reasons != ResyncReasons.None;

    /// <summary>Every reason that applies.</summary>
    public ResyncReasons Reasons { get; }

    /// <summary>True when the whole disk must be compared (a reason that cannot say where the differences are).</summary>
    public bool WholeDisk { get; }

    /// <summary>
    /// When <see cref="WholeDisk"/> is false: the only ranges that may differ, ascending, non-overlapping, merged (may be
    /// empty: an unclean stop with no write in flight). Empty when <see cref="WholeDisk"/> is true.
    /// </summary>
    public IReadOnlyList<DiskExtent> Ranges { get; }

    /// <summary>Counts the stored triggers so far; <see cref="TrackedDisk.CompleteResyncAsync"/> uses it to tell new triggers from old.</summary>
    public long Generation { get; }

    /// <inheritdoc />
    public override string ToString() =>
        !IsRequired ? "no resync required" : $"{Reasons}: {(WholeDisk ? "whole disk" : $"{Ranges.Count} ranges")}";
}
