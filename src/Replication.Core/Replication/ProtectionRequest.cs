namespace Replication.Core.Replication;

/// <summary>What enabling protection needs beyond the machine's disks: its description, network mapping and policy.</summary>
public sealed class ProtectionRequest
{
    /// <summary>The machine (site, name, tracked disks).</summary>
    public required ProtectedMachine Machine { get; init; }

    /// <summary>The machine's description; null for one named after the item with no network adapters.</summary>
    public MachineDescription? Description { get; init; }

    /// <summary>Source network → recovery network, applied to the adapters at failover (a failover may give its own).</summary>
    public IReadOnlyDictionary<string, string>? NetworkMapping { get; init; }

    /// <summary>Retention, application-consistent points and transfer limits; <see cref="ReplicationPolicy.Default"/> when null.</summary>
    public ReplicationPolicy? Policy { get; init; }

    /// <summary>Create the site (its directory or container) when it does not exist.</summary>
    public bool CreateSite { get; init; }
}
