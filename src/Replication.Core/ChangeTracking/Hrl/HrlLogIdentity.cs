namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>The identifiers a new log carries in its header.</summary>
/// <param name="UniqueId">Identifies the new log; must not be <see cref="Guid.Empty"/>.</param>
/// <param name="PreviousUniqueId">
/// The <see cref="UniqueId"/> of the previous log of the same disk, chaining the logs; <see cref="Guid.Empty"/> for the
/// first log of a chain.
/// </param>
/// <param name="Vhd2DataWriteGuid">
/// The VHDX DataWriteGuid of the tracked disk when the log started (<see cref="Guid.Empty"/> for formats without one), so
/// a later reader can tell whether the disk was modified while tracking was off.
/// </param>
public readonly record struct HrlLogIdentity(Guid UniqueId, Guid PreviousUniqueId, Guid Vhd2DataWriteGuid);
