namespace Replication.Core.Targets;

/// <summary>A recovery point of a replica.</summary>
/// <param name="Id">The target's identifier of the point (ordinal order is creation order on a local target; a snapshot time on Azure).</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Label">The label given when it was created, or null.</param>
public sealed record RecoveryPoint(string Id, DateTimeOffset CreatedAt, string? Label);
