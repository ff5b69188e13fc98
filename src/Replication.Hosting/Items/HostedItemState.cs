namespace Replication.Hosting.Items;

/// <summary>How the host sees an item's replication health (beside the engine's protection state).</summary>
public enum HostedItemState
{
    /// <summary>Replicating on schedule.</summary>
    Healthy,

    /// <summary>The last attempt failed with a recoverable error; the next attempt is scheduled.</summary>
    Retrying,

    /// <summary>A resync is required and waits for its window.</summary>
    WaitingForResyncWindow,

    /// <summary>A non-recoverable failure: nothing runs until an operator resumes or repairs the item.</summary>
    Critical,
}
