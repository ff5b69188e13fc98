using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Scheduling;

/// <summary>Cycles run at each item's copy frequency, on Quartz, driven by a fake clock.</summary>
public sealed class CycleScheduleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData(30)]
    [InlineData(300)]
    [InlineData(900)]
    public async Task Cycles_run_at_the_copy_frequency(int seconds)
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        DateTimeOffset start = host.Clock.GetUtcNow();
        TimeSpan frequency = TimeSpan.FromSeconds(seconds);
        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);

        for (int n = 1; n <= 3; n++)
        {
            host.AdvanceTo(start + (frequency * n));
            FakeItemOperations.Call call = await host.Operations.NextCallAsync();
            Assert.Equal(("cycle", "vm", start + (frequency * n)), (call.Kind, call.Item, call.At));
        }
    }

    public void Dispose() => _dir.Dispose();
}
