using Replication.Hosting.Items;

namespace Replication.Hosting.Operations;

/// <summary>
/// What the host asks of the engine for one item. The default runs <see cref="Core.Replication.ReplicationEngine"/>
/// against the registered site with the disks an <see cref="IMachineProvider"/> hands out; a test or an embedding
/// product may supply its own. Failures are thrown as <see cref="Core.ReplicationException"/> (classified: recoverable or not).
/// </summary>
public interface IItemOperations
{
    /// <summary>Enables protection and runs the initial replication (resumed when it was interrupted).</summary>
    Task<ItemRunOutcome> ProtectAsync(HostedItem item, CancellationToken cancellationToken);

    /// <summary>Runs what the item needs now: a delta cycle, or the initial replication resumed.</summary>
    Task<ItemRunOutcome> ReplicateAsync(HostedItem item, CancellationToken cancellationToken);

    /// <summary>Resynchronises the item now.</summary>
    Task<ItemRunOutcome> ResyncAsync(HostedItem item, CancellationToken cancellationToken);

    /// <summary>
    /// True when the item needs a resync before cycles can go on (its record or its trackers say so), read cheaply
    /// (without running anything).
    /// </summary>
    Task<bool> IsResyncRequiredAsync(HostedItem item, CancellationToken cancellationToken);

    /// <summary>Takes a critical item back to resync required, once an operator has repaired the cause.</summary>
    Task ResumeAsync(HostedItem item, CancellationToken cancellationToken);
}
