using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Quartz;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Replication.Sites;
using Replication.Core.Transfer;
using Replication.Hosting;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Operations;
using Replication.Hosting.Plans;
using Replication.Hosting.Scheduling;
using Replication.Hosting.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the replication host in a service collection.</summary>
public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Registers the replication host: its options (validated when the host starts, every invalid option named), the
    /// store (SQLite, or PostgreSQL for several hosts), Quartz.NET with its ADO.NET job store in the same database
    /// (clustered on PostgreSQL), the item jobs, the <see cref="ReplicationService"/>, the <see cref="RecoveryPlanRunner"/>, a health check named
    /// <c>replication</c> and the <see cref="ReplicationMetrics"/> meter; and Core's disk factory
    /// (<see cref="IVirtualDiskFactory"/>) and operations (<see cref="IDiskSynchronizer"/>, <see cref="ILogApplier"/>,
    /// <see cref="IDiskConverter"/>, <see cref="IManifestBuilder"/>, <see cref="IDeltaLog"/>), each a singleton. One
    /// <see cref="TimeProvider"/> is taken from the container (the system clock when none is registered): the operations
    /// that keep time, the engine, the site and the schedule all run on it. Registrations already present are kept, so a
    /// replacement registered before or after this call wins as the container's usual rules say; calling it again adds
    /// nothing.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">
    /// Sets the options. It is also run once at once: the store, the thread pool and clustering are decided by what it
    /// sets here, since Quartz is registered from them.
    /// </param>
    /// <returns>A builder to register the site and what the embedding product supplies.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IReplicationBuilder AddReplication(this IServiceCollection services, Action<ReplicationHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new ReplicationBuilder(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IVirtualDiskFactory, VirtualDiskFactory>();
        services.TryAddSingleton<IDiskSynchronizer>(provider => new DiskSynchronizer(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ILogApplier>(provider => new LogApplier(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IDiskConverter>(provider => new DiskConverter(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IDeltaLog>(provider => new DeltaLog(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IManifestBuilder, ManifestBuilder>();
        if (services.Any(d => d.ServiceType == typeof(ReplicationService)))
        {
            return builder;
        }

        var eager = new ReplicationHostOptions();
        configure?.Invoke(eager);
        OptionsBuilder<ReplicationHostOptions> options = services.AddOptions<ReplicationHostOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplicationHostOptions>, ReplicationHostOptionsValidator>());
        services.TryAddSingleton(RetrySchedule.Default);
        services.TryAddSingleton<IMachineProvider, TrackedDiskMachineProvider>();
        services.TryAddSingleton<IReplicationStore>(sp => sp.GetRequiredService<IOptions<ReplicationHostOptions>>().Value switch
        {
            { PostgresConnectionString: { } pg } => SqlReplicationStore.Postgres(pg),
            { SqlitePath: { } path } => SqlReplicationStore.Sqlite(path),
            _ => throw new OptionsValidationException(nameof(ReplicationHostOptions), typeof(ReplicationHostOptions), ["Set SqlitePath or PostgresConnectionString."]),
        });
        services.TryAddSingleton(sp => new ReplicationMetrics(sp.GetRequiredService<TimeProvider>(), sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<JobRecorder>();
        services.TryAddSingleton<JobEvents>();
        services.TryAddSingleton<ItemScheduler>();
        services.TryAddSingleton<ItemJobRunner>();
        services.TryAddSingleton<ItemGate>();
        services.TryAddTransient<ReplicationItemJob>();
        services.TryAddTransient<PinnedItemsJob>();
        services.TryAddSingleton(sp => new EngineItemOperations(
            sp.GetRequiredService<IReplicationSite>(), sp.GetRequiredService<IMachineProvider>(), sp.GetRequiredService<JobRecorder>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<ReplicationHostOptions>>().Value,
            sp.GetRequiredService<IDiskSynchronizer>(), sp.GetRequiredService<ILogApplier>()));
        services.TryAddSingleton<IItemOperations>(sp => sp.GetRequiredService<EngineItemOperations>());
        services.TryAddSingleton<IRecoveryOperations>(sp => sp.GetRequiredService<EngineItemOperations>());
        services.TryAddSingleton(sp => new RecoveryPlanRunner(
            sp.GetRequiredService<IReplicationStore>(), sp.GetRequiredService<IRecoveryOperations>(), sp.GetRequiredService<ItemGate>(),
            sp.GetRequiredService<JobRecorder>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<ReplicationHostOptions>>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<RecoveryPlanRunner>>()));
        services.TryAddSingleton(sp => new ReplicationService(
            sp.GetRequiredService<IReplicationStore>(), sp.GetRequiredService<ItemScheduler>(), sp.GetRequiredService<IItemOperations>(),
            sp.GetRequiredService<IReplicationSite>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<ReplicationHostOptions>>(),
            sp.GetRequiredService<ReplicationMetrics>()));

        // Before Quartz's hosted service: the store's tables and the items' triggers exist before the scheduler starts.
        services.AddHostedService<ReplicationHostedService>();
        services.AddQuartz(q =>
        {
            q.UseDefaultThreadPool(Math.Clamp(eager.MaxConcurrentItems, 1, 256));
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = "replication";

                // A stopping host asks its running jobs to stop (they save their checkpoint and stay in progress, resumed at the
                // next start) and waits for them, rather than waiting for a long resync to finish or leaving it running.
                s.ShutdownJobInterruption = ShutdownJobInterruption.WhenWaitingForJobs;
                if (eager.IsClustered)
                {
                    s.InstanceId = eager.HostId + "-" + Guid.NewGuid().ToString("N")[..8];
                }
            });
            if (eager.PostgresConnectionString is null && eager.SqlitePath is null)
            {
                return;
            }

            q.UsePersistentStore(store =>
            {
                if (eager.PostgresConnectionString is { } pg)
                {
                    store.UsePostgres(Npgsql.NpgsqlFactory.Instance, pg);
                    store.UseClustering(c =>
                    {
                        c.CheckinInterval = eager.ClusterCheckinInterval;
                        c.CheckinMisfireThreshold = eager.ClusterCheckinInterval;
                    });
                }
                else
                {
                    store.UseSqlite(Microsoft.Data.Sqlite.SqliteFactory.Instance, new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(eager.SqlitePath!), DefaultTimeout = 30 }.ToString());
                }

                store.ProvisionSchema();
                store.ConfigureStore(s =>
                {
                    s.MisfireThreshold = eager.MisfireThreshold;
                    s.RecoverFiringsCancelledByShutdown = true;
                });
            });
        });
        if (eager.IsClustered)
        {
            // Items pinned to this host run on a scheduler of its own that no other host shares: in memory, its triggers
            // made again from the store at each start (ReplicationHostedService).
            services.AddQuartz(ItemScheduler.PinnedSchedulerName, q =>
            {
                q.UseDefaultThreadPool(Math.Clamp(eager.MaxConcurrentItems, 1, 256));
                q.ConfigureScheduler(s => s.ShutdownJobInterruption = ShutdownJobInterruption.WhenWaitingForJobs);
                q.UseInMemoryStore(_ => { });
            });
        }

        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        services.AddHealthChecks().AddCheck<ReplicationHealthCheck>("replication", HealthStatus.Unhealthy, ["replication"]);
        return builder;
    }

    /// <summary>The site is a local directory (created when missing); its fences and points run on the container's <see cref="TimeProvider"/>.</summary>
    public static IReplicationBuilder AddLocalSite(this IReplicationBuilder builder, string directory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return ReplaceSingleton<IReplicationSite>(builder, sp =>
        {
            Directory.CreateDirectory(directory);
            return new LocalReplicationSite(directory, timeProvider: sp.GetRequiredService<TimeProvider>());
        });
    }

    /// <summary>The site is an Azure Blob container reached with a storage account's connection string.</summary>
    public static IReplicationBuilder AddAzureSite(this IReplicationBuilder builder, string connectionString, string container)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentException.ThrowIfNullOrEmpty(container);
        return ReplaceSingleton<IReplicationSite>(builder, sp => new AzureReplicationSite(connectionString, container, timeProvider: sp.GetRequiredService<TimeProvider>()));
    }

    /// <summary>The site is an Azure Blob container reached with a container SAS URI.</summary>
    public static IReplicationBuilder AddAzureSite(this IReplicationBuilder builder, Uri containerSasUri)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(containerSasUri);
        return ReplaceSingleton<IReplicationSite>(builder, sp => new AzureReplicationSite(containerSasUri, timeProvider: sp.GetRequiredService<TimeProvider>()));
    }

    /// <summary>The site is an Azure Blob container reached with a token credential, such as Azure.Identity's <c>DefaultAzureCredential</c>.</summary>
    public static IReplicationBuilder AddAzureSite(this IReplicationBuilder builder, Uri containerUri, global::Azure.Core.TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(containerUri);
        ArgumentNullException.ThrowIfNull(credential);
        return ReplaceSingleton<IReplicationSite>(builder, sp => new AzureReplicationSite(containerUri, credential, timeProvider: sp.GetRequiredService<TimeProvider>()));
    }

    /// <summary>The machines of items come from the embedding product (tracked disks it keeps open and writes through).</summary>
    public static IReplicationBuilder UseMachineProvider<TProvider>(this IReplicationBuilder builder)
        where TProvider : class, IMachineProvider
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IMachineProvider, TProvider>());
        return builder;
    }

    /// <summary>The machines of items come from <paramref name="factory"/> (the embedding product's tracked disks, which it keeps open and writes through).</summary>
    public static IReplicationBuilder UseMachineProvider(this IReplicationBuilder builder, Func<IServiceProvider, IMachineProvider> factory) =>
        ReplaceSingleton(builder, factory);

    /// <summary>A recovery plan's operations on items come from <paramref name="factory"/> instead of the engine (tests, or a product's own wrapper).</summary>
    public static IReplicationBuilder UseRecoveryOperations(this IReplicationBuilder builder, Func<IServiceProvider, IRecoveryOperations> factory) =>
        ReplaceSingleton(builder, factory);

    /// <summary>The host's operations on items come from <paramref name="factory"/> instead of the engine (tests, or a product's own wrapper).</summary>
    public static IReplicationBuilder UseItemOperations(this IReplicationBuilder builder, Func<IServiceProvider, IItemOperations> factory) =>
        ReplaceSingleton(builder, factory);

    /// <summary>Registers <paramref name="factory"/> as the singleton <typeparamref name="TService"/> in place of the one registered before (if any).</summary>
    private static IReplicationBuilder ReplaceSingleton<TService>(IReplicationBuilder builder, Func<IServiceProvider, TService> factory)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
        return builder;
    }
}
