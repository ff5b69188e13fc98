using Microsoft.Extensions.DependencyInjection;
using Replication.Core.ChangeTracking;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Hosting.Tests.DependencyInjection;

public sealed class AddReplicationTests
{
    [Fact]
    public void Registers_one_disk_factory_even_when_called_twice()
    {
        var services = new ServiceCollection();
        services.AddReplication().AddReplication();
        Assert.Single(services, d => d.ServiceType == typeof(IVirtualDiskFactory));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.IsType<VirtualDiskFactory>(provider.GetRequiredService<IVirtualDiskFactory>());
    }

    [Fact]
    public void The_registered_factory_creates_and_opens_disks()
    {
        string path = Path.Combine(Path.GetTempPath(), "repl-hosting-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            using ServiceProvider provider = new ServiceCollection().AddReplication().BuildServiceProvider();
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
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Registers_each_operation_once_and_keeps_a_time_provider_already_registered()
    {
        var clock = new OtherClock();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddReplication().AddReplication();
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
        using ServiceProvider provider = new ServiceCollection().AddReplication().BuildServiceProvider();
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    private sealed class OtherClock : TimeProvider;
}
