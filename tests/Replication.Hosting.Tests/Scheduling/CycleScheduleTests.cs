using Replication.Core.Replication;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Replication.Hosting.Items;
using Replication.Hosting.Scheduling;
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

    /// <summary>
    /// A resync that runs past a cycle's due time ends with a recovery point: the cycles start over one interval after it,
    /// rather than running the cycle that came due meanwhile right after it (a second point at the same moment; the
    /// restart test of an interrupted resync saw that cycle still running when its host was told to exit).
    /// </summary>
    [Fact]
    public async Task A_resync_that_runs_past_a_cycle_s_due_time_is_followed_by_the_next_cycle_one_interval_after_it()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        DateTimeOffset start = host.Clock.GetUtcNow();
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency }, protectionState: ProtectionState.Protected);
        TaskCompletionSource hold = host.Operations.HoldNextResync();

        host.AdvanceTo(start + TimeSpan.FromSeconds(10));
        await host.Service.RequestResyncAsync("vm");
        FakeItemOperations.Call held = await host.Operations.NextCallAsync();
        Assert.Equal(("held resync", start + TimeSpan.FromSeconds(10)), (held.Kind, held.At));

        // The cycle due at +30 s comes due while the resync runs; the resync ends at +40 s.
        host.AdvanceTo(start + TimeSpan.FromSeconds(40));
        hold.SetResult();
        FakeItemOperations.Call resync = await host.Operations.NextCallAsync();
        Assert.Equal(("resync", start + TimeSpan.FromSeconds(40)), (resync.Kind, resync.At));

        host.AdvanceTo(start + TimeSpan.FromSeconds(70));
        FakeItemOperations.Call next = await host.Operations.NextCallAsync();
        Assert.Equal(("cycle", start + TimeSpan.FromSeconds(70)), (next.Kind, next.At));
    }

    /// <summary>
    /// Items added at once, each enabled once and then left until its copy frequency passes: no cycle at the instant it
    /// was added (a trigger due now made after its first run ended would add a recovery point nobody asked for; the
    /// restart test of a recovery plan saw one such point in CI).
    /// </summary>
    [Fact]
    public async Task Added_items_are_enabled_once_each_and_cycle_first_at_the_copy_frequency()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        DateTimeOffset start = host.Clock.GetUtcNow();
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        string[] names = [.. Enumerable.Range(0, 24).Select(i => $"vm{i:00}")];
        await Task.WhenAll(names.Select(n => host.Service.AddItemAsync(n, [$"/disks/{n}.vhdx"], new ItemPolicy { CopyFrequency = frequency })));
        ItemScheduler scheduler = host.Services.GetRequiredService<ItemScheduler>();
        foreach (string name in names)
        {
            await host.WaitForItemAsync(name, i => i.ProtectionState == ProtectionState.Protected);
            Assert.Equal(start + frequency, await scheduler.NextCycleAsync(name, CancellationToken.None));
        }

        host.AdvanceTo(start + frequency);
        var calls = new List<FakeItemOperations.Call>();
        for (int n = 0; n < names.Length * 2; n++)
        {
            calls.Add(await host.Operations.NextCallAsync());
        }

        Assert.Equal(
            [.. names.Select(n => ("protect", n, start)), .. names.Select(n => ("cycle", n, start + frequency))],
            calls.Select(c => (c.Kind, c.Item, c.At)).OrderBy(c => c.At).ThenBy(c => c.Item, StringComparer.Ordinal));
    }

    /// <summary>
    /// The same, with the adding held back (by a Quartz listener on its first trigger) until the item's first run has
    /// ended: what a loaded machine does at random. The run schedules the next cycle one interval on; the adding must not
    /// then replace it with one due now.
    /// </summary>
    [Fact]
    public async Task An_item_whose_first_run_ends_before_its_adding_returns_still_cycles_first_at_the_copy_frequency()
    {
        await using TestHost host = await TestHost.StartAsync(_dir.Path);
        DateTimeOffset start = host.Clock.GetUtcNow();
        TimeSpan frequency = TimeSpan.FromSeconds(30);
        var hold = new HoldAddingUntilFirstRun("vm");
        IScheduler quartz = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        quartz.ListenerManager.AddSchedulerListener(hold);
        quartz.ListenerManager.AddJobListener(hold);

        await host.Service.AddItemAsync("vm", ["/disks/vm.vhdx"], new ItemPolicy { CopyFrequency = frequency });
        Assert.True(hold.Held, "the listener never held the adding back");
        Assert.Equal(("protect", "vm", start), await host.Operations.NextCallAsync() is var c ? (c.Kind, c.Item, c.At) : default);
        Assert.Equal(start + frequency, await host.Services.GetRequiredService<ItemScheduler>().NextCycleAsync("vm", CancellationToken.None));

        host.AdvanceTo(start + frequency);
        Assert.Equal(("cycle", "vm", start + frequency), await host.Operations.NextCallAsync() is var d ? (d.Kind, d.Item, d.At) : default);
    }

    /// <summary>Holds the first scheduling of the item's cycle trigger (the adding's) until the item's job has run once.</summary>
    private sealed class HoldAddingUntilFirstRun(string item) : ISchedulerListener, IJobListener
    {
        private readonly TaskCompletionSource _ran = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _scheduled;

        public bool Held { get; private set; }

        public string Name => nameof(HoldAddingUntilFirstRun);

        public async ValueTask JobScheduled(IScheduler scheduler, ITrigger trigger, CancellationToken cancellationToken = default)
        {
            if (trigger.Key.Equals(ItemScheduler.CycleKey(item)) && Interlocked.Increment(ref _scheduled) == 1)
            {
                Held = true;
                await _ran.Task.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            }
        }

        public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
        {
            if (context.JobDetail.Key.Name == item)
            {
                _ran.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }
    }

    public void Dispose() => _dir.Dispose();
}
