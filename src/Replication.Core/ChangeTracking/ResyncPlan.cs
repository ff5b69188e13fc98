namespace Replication.Core.ChangeTracking;

/// <summary>
/// Returned by <see cref="TrackedDisk.BeginResyncAsync"/>: what to resynchronise and where the log chain continues.
/// </summary>
/// <param name="Requirement">The reasons and ranges at the start of the resync.</param>
/// <param name="ContinueFromUniqueId">
/// The <c>UniqueId</c> the first log written after the resync began names as its <c>PreviousUniqueId</c>: once the
/// ranges are copied, the replica is at this point and takes the following logs.
/// </param>
public sealed record ResyncPlan(ResyncRequirement Requirement, Guid ContinueFromUniqueId);
