namespace Replication.Core.Replication;

/// <summary>
/// A machine brought up at the recovery site: where its disks are, and its description with the networks mapped for
/// the recovery site. What a failover hands to the embedding product to start.
/// </summary>
public sealed class RecoveredMachine
{
    /// <summary>Creates the description of a recovered machine.</summary>
    /// <param name="item">The protected item.</param>
    /// <param name="kind">The failover that recovered it.</param>
    /// <param name="point">The recovery point it was recovered from.</param>
    /// <param name="machine">The machine, its adapters on the mapped networks.</param>
    /// <param name="disks">Where each disk is (a path or a URI), in disk order.</param>
    public RecoveredMachine(string item, FailoverKind kind, RecoveryPointInfo point, MachineDescription machine, IReadOnlyList<string> disks)
    {
        ArgumentException.ThrowIfNullOrEmpty(item);
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(disks);
        Item = item;
        Kind = kind;
        Point = point;
        Machine = machine;
        Disks = [.. disks];
    }

    /// <summary>The protected item.</summary>
    public string Item { get; }

    /// <summary>The failover that recovered it.</summary>
    public FailoverKind Kind { get; }

    /// <summary>The recovery point it was recovered from.</summary>
    public RecoveryPointInfo Point { get; }

    /// <summary>The machine, each network adapter on the recovery network its source network maps to.</summary>
    public MachineDescription Machine { get; }

    /// <summary>Where each recovered disk is, in disk order.</summary>
    public IReadOnlyList<string> Disks { get; }
}
