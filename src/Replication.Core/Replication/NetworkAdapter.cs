namespace Replication.Core.Replication;

/// <summary>A network adapter of a protected machine and the network it is attached to.</summary>
public sealed class NetworkAdapter
{
    /// <summary>The adapter's name (1 to 256 characters).</summary>
    public required string Name
    {
        get;
        init => field = SetterChecks.Name(value);
    }

    /// <summary>The network it is attached to at the primary; a failover maps it to a recovery network (1 to 256 characters).</summary>
    public required string Network
    {
        get;
        init => field = SetterChecks.Name(value);
    }

    /// <summary>Its MAC address, or null to let the recovery side choose one.</summary>
    public string? MacAddress { get; init; }
}
