using Replication.Core.Transfer;

namespace Replication.Core.Replication;

/// <summary>Progress of one step of the engine on one disk.</summary>
/// <param name="Item">The item.</param>
/// <param name="Disk">The disk's index.</param>
/// <param name="Step">What is running: "initial replication", "resync", "apply".</param>
/// <param name="Transfer">The transfer's own progress.</param>
public sealed record ReplicationProgress(string Item, int Disk, string Step, TransferProgress Transfer);
