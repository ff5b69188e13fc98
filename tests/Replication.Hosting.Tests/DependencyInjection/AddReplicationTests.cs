using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Hosting.Tests.DependencyInjection;

public sealed class AddReplicationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Registers_once_even_when_called_twice()
    {
        var services = new ServiceCollection();
        services.AddReplication(o => o.SqlitePath = _dir.File("a.db"));
        services.AddReplication(o => o.SqlitePath = _dir.File("b.db"));
        Assert.Single(services, d => d.ServiceType == typeof(IVirtualDiskFactory));
        Assert.Single(services, d => d.ServiceType == typeof(ReplicationService));
    }

    [Fact]
    public async Task Invalid_options_stop_the_host_at_start_naming_each_one()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLogging();
        builder.Services.AddReplication(o =>
        {
            o.SqlitePath = _dir.File("h.db");
            o.MaxConcurrentItems = 0;
            o.HostId = "";
            o.DefaultPolicy = new ItemPolicy { CopyFrequency = TimeSpan.FromSeconds(10), ResyncThreshold = 0 };
        }).AddLocalSite(_dir.File("site"));
        using IHost host = builder.Build();
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        foreach (string option in new[] { "MaxConcurrentItems", "HostId", "DefaultPolicy.CopyFrequency", "DefaultPolicy.ResyncThreshold" })
        {
            Assert.Contains(error.Failures, f => f.Contains("ReplicationHostOptions." + option, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_host_without_a_store_is_refused_at_start()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLogging();
        builder.Services.AddReplication().AddLocalSite(_dir.File("site"));
        using IHost host = builder.Build();
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(error.Failures, f => f.Contains("SqlitePath", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_started_host_with_no_items_is_healthy_and_uses_the_container_clock()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Same(host.Clock, host.Services.GetRequiredService<TimeProvider>());
        Assert.IsType<LocalReplicationSite>(host.Services.GetRequiredService<IReplicationSite>());
    }

    [Fact]
    public async Task An_azure_site_registers_by_connection_string_or_SAS_and_is_writable()
    {
        string connectionString = Azurite.ConnectionString();
        string container = "hosting-" + Guid.NewGuid().ToString("N")[..12];
        var client = new BlobContainerClient(connectionString, container);
        await client.CreateAsync();
        try
        {
            Uri sas = client.GenerateSasUri(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
            foreach (Action<IReplicationBuilder> add in new Action<IReplicationBuilder>[] { b => b.AddAzureSite(connectionString, container), b => b.AddAzureSite(sas) })
            {
                var services = new ServiceCollection();
                add(services.AddReplication(o => o.SqlitePath = _dir.File("x.db")));
                await using ServiceProvider provider = services.BuildServiceProvider();
                IReplicationSite site = provider.GetRequiredService<IReplicationSite>();
                Assert.IsType<AzureReplicationSite>(site);
                await site.EnsureWritableAsync(create: false);
                Assert.DoesNotContain("sig=", site.Location, StringComparison.Ordinal);
            }
        }
        finally
        {
            await client.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public void The_registered_factory_creates_and_opens_disks()
    {
        string path = _dir.File("disk.img");
        using ServiceProvider provider = new ServiceCollection().AddReplication().Services.BuildServiceProvider();
        IVirtualDiskFactory factory = provider.GetRequiredService<IVirtualDiskFactory>();
        using (IVirtualDisk created = factory.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 1 << 20 }))
        {
            created.Write(4096, new byte[] { 42 });
            created.Flush();
        }

        using IVirtualDisk opened = factory.Open(path, DiskOpenOptions.ReadOnlyAccess);
        byte[] read = new byte[1];
        opened.Read(4096, read);
        Assert.Equal(42, read[0]);
    }

    [Fact]
    public void Registers_each_operation_once_and_keeps_a_time_provider_already_registered()
    {
        var clock = new OtherClock();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddReplication();
        services.AddReplication();
        Type[] operations = [typeof(IDiskSynchronizer), typeof(ILogApplier), typeof(IDiskConverter), typeof(IManifestBuilder), typeof(IDeltaLog)];
        foreach (Type operation in operations)
        {
            Assert.Single(services, d => d.ServiceType == operation);
        }

        Assert.Single(services, d => d.ServiceType == typeof(TimeProvider));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(clock, provider.GetRequiredService<TimeProvider>());
        Assert.IsType<DiskSynchronizer>(provider.GetRequiredService<IDiskSynchronizer>());
        Assert.IsType<LogApplier>(provider.GetRequiredService<ILogApplier>());
        Assert.IsType<DiskConverter>(provider.GetRequiredService<IDiskConverter>());
        Assert.IsType<ManifestBuilder>(provider.GetRequiredService<IManifestBuilder>());
        Assert.IsType<DeltaLog>(provider.GetRequiredService<IDeltaLog>());
    }

    [Fact]
    public void Without_a_time_provider_the_system_clock_is_registered()
    {
        using ServiceProvider provider = new ServiceCollection().AddReplication().Services.BuildServiceProvider();
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    public void Dispose() => _dir.Dispose();

    private sealed class OtherClock : TimeProvider;
}
