namespace Replication.Hosting.Scheduling;

/// <summary>Why an item's job fired.</summary>
internal enum TriggerMode
{
    /// <summary>Its copy frequency came round.</summary>
    Cycle,

    /// <summary>A retry after a recoverable failure.</summary>
    Retry,

    /// <summary>The resync window opened for a resync that waited for it.</summary>
    ResyncWindow,

    /// <summary>An operator asked for a resync now.</summary>
    ResyncNow,

    /// <summary>A host started and found the item's job interrupted, or an operator resumed the item.</summary>
    Resume,
}
