using Microsoft.Extensions.DependencyInjection.Extensions;
using Replication.Core.Disks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the replication library in a service collection.</summary>
public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Registers the disk factory (<see cref="IVirtualDiskFactory"/>). Safe to call more than once: later calls add nothing.
    /// </summary>
    public static IServiceCollection AddReplication(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<IVirtualDiskFactory, VirtualDiskFactory>();
        return services;
    }
}
