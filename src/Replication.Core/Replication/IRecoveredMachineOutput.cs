using Replication.Core.Disks;

namespace Replication.Core.Replication;

/// <summary>
/// Where a failover puts the recovered machine: it receives the recovery point's disks (read-only) and the machine's
/// description with its networks mapped, makes the disks the machine will run from, and starts it (or leaves that to
/// the product). <see cref="DiskFileOutput"/> writes the disks and a JSON description to a folder.
/// </summary>
public interface IRecoveredMachineOutput
{
    /// <summary>
    /// Makes the recovered machine's disks from the point's disks and starts it; returns where its disks are. Called again
    /// with another point when a failover moves to it: the previous disks are replaced.
    /// </summary>
    /// <param name="item">The protected item.</param>
    /// <param name="kind">The failover.</param>
    /// <param name="point">The recovery point.</param>
    /// <param name="machine">The machine's description, networks mapped.</param>
    /// <param name="pointDisks">The point's disks, read-only, in disk order; valid until this returns.</param>
    /// <param name="cancellationToken">Cancels the output (it may be repeated).</param>
    Task<RecoveredMachine> StartAsync(
        string item, FailoverKind kind, RecoveryPointInfo point, MachineDescription machine, IReadOnlyList<IVirtualDisk> pointDisks, CancellationToken cancellationToken);

    /// <summary>Stops and removes a recovered machine (a test failover cleaned up, a failover cancelled). Removing what is gone is harmless.</summary>
    Task RemoveAsync(RecoveredMachine machine, CancellationToken cancellationToken);
}
