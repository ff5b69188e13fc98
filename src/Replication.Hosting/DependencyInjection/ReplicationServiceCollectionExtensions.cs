using Microsoft.Extensions.DependencyInjection.Extensions;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the replication library in a service collection.</summary>
public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Registers, each as a singleton, the disk factory (<see cref="IVirtualDiskFactory"/>) and the operations:
    /// <see cref="IDiskSynchronizer"/>, <see cref="ILogApplier"/>, <see cref="IDiskConverter"/>,
    /// <see cref="IManifestBuilder"/> and <see cref="IDeltaLog"/>. The operations that keep time are built with the
    /// container's <see cref="TimeProvider"/>; <see cref="TimeProvider.System"/> is registered when the container has
    /// none. Registrations already present are kept, so a replacement registered before or after this call wins as the
    /// container's usual rules say, and calling it more than once adds nothing.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddReplication(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IVirtualDiskFactory, VirtualDiskFactory>();
        services.TryAddSingleton<IDiskSynchronizer>(provider => new DiskSynchronizer(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ILogApplier>(provider => new LogApplier(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IDiskConverter>(provider => new DiskConverter(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IDeltaLog>(provider => new DeltaLog(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IManifestBuilder, ManifestBuilder>();
        return services;
    }
}
