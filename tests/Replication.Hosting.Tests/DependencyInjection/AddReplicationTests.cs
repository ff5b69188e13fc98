using Microsoft.Extensions.DependencyInjection;
using Replication.Core.Disks;

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
}
