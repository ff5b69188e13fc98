namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures the replication host registered by <c>AddReplication</c>: its site, and what the embedding product supplies.</summary>
public interface IReplicationBuilder
{
    /// <summary>The service collection the host is registered in.</summary>
    IServiceCollection Services { get; }
}

internal sealed class ReplicationBuilder(IServiceCollection services) : IReplicationBuilder
{
    public IServiceCollection Services { get; } = services;
}
