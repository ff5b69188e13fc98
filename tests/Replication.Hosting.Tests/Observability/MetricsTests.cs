using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Observability;
using Replication.Hosting.Operations;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Observability;

/// <summary>
/// The host's meter as a listener (OpenTelemetry's, say) sees it, with the real engine on a fake clock: RPO per item,
/// the log backlog at the primary growing with writes and emptied by a cycle, bytes shipped equal to what the cycle's
/// job says it sent, job durations, a retry after a recoverable failure, and nothing more of an item once it is removed.
/// </summary>
public sealed class MetricsTests : IDisposable
{
    private const long Size = 4 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task The_meter_reports_rpo_log_backlog_bytes_shipped_job_durations_and_retries_per_item()
    {
        string disk = _dir.File("web.raw");
        File.WriteAllBytes(disk, TestDisks.Content(Size, seed: 3));
        using var seen = new Seen();
        await using TestHost host = await TestHost.StartWithEngineAsync(_dir.Path, new TrackedDiskMachineProvider());
        seen.Scope = host.Services.GetRequiredService<IMeterFactory>();
        DateTimeOffset start = host.Clock.GetUtcNow();
        var policy = new ItemPolicy { CopyFrequency = TimeSpan.FromSeconds(30), ResyncWindow = new ResyncWindow { TimeZone = "UTC" } };

        await host.Service.AddItemAsync("web", [disk], policy);
        await host.WaitForItemAsync("web", i => i.ProtectionState == ProtectionState.Protected && i.LastRecoveryPointAt == start);
        Assert.Equal(0, seen.Gauge("replication.item.rpo", "web"));
        long shippedByProtection = seen.Sum("replication.bytes_shipped", "web");
        Assert.True(shippedByProtection > 0, "enabling protection shipped nothing the counter saw");
        Assert.Contains(("EnableProtection", "succeeded"), seen.Durations());

        // The guest writes 1 MiB through tracking: the backlog at the primary holds at least that much.
        byte[] data = new byte[1 << 20];
        new Random(4).NextBytes(data);
        await using (TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(disk), TrackedDiskMachineProvider.LogDirectory(disk)))
        {
            await tracked.WriteAsync(1 << 20, data);
            await tracked.FlushAsync();
        }

        Assert.True(seen.Gauge("replication.item.log_backlog", "web") >= data.Length, $"backlog {seen.Gauge("replication.item.log_backlog", "web")} after writing {data.Length} bytes");

        // A cycle ships it: the backlog is empty, the counter grew by exactly what the cycle's job says it sent.
        DateTimeOffset cycleAt = start + policy.CopyFrequency;
        host.AdvanceTo(cycleAt);
        await host.WaitForItemAsync("web", i => i.LastRecoveryPointAt == cycleAt);
        JobRecord cycle = (await host.Service.ListJobsAsync("web")).Single(j => j.Kind == JobKind.DeltaCycle);
        long sent = long.Parse(cycle.Result!.Split(", ")[^1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.True(sent >= data.Length, cycle.Result);
        Assert.Equal(shippedByProtection + sent, seen.Sum("replication.bytes_shipped", "web"));
        Assert.Equal(0, seen.Gauge("replication.item.log_backlog", "web"));
        Assert.Contains(("DeltaCycle", "succeeded"), seen.Durations());
        host.AdvanceTo(cycleAt + TimeSpan.FromSeconds(10));
        Assert.Equal(10, seen.Gauge("replication.item.rpo", "web"));

        // Another tracker holds the disk at the next cycle: a recoverable failure, one retry counted.
        Assert.Equal(0, seen.Sum("replication.retries", "web"));
        await using (TrackedDisk holder = TrackedDisk.Open(VirtualDisk.Open(disk), TrackedDiskMachineProvider.LogDirectory(disk)))
        {
            host.AdvanceTo(cycleAt + policy.CopyFrequency);
            await host.WaitForItemAsync("web", i => i.State == HostedItemState.Retrying);
        }

        Assert.Equal(1, seen.Sum("replication.retries", "web"));
        Assert.Contains(("DeltaCycle", "retry"), seen.Durations());

        // Removed: nothing more of the item is reported.
        await host.Service.RemoveItemAsync("web");
        seen.Clear();
        Assert.Null(seen.GaugeOrNull("replication.item.rpo", "web"));
        Assert.Null(seen.GaugeOrNull("replication.item.log_backlog", "web"));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>A meter listener keeping every measurement of the host's meter (the one its meter factory made).</summary>
    private sealed class Seen : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, object? Scope, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

        public Seen()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ReplicationMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => _measurements.Enqueue((i.Name, i.Meter.Scope, v, tags.ToArray())));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => _measurements.Enqueue((i.Name, i.Meter.Scope, v, tags.ToArray())));
            _listener.Start();
        }

        /// <summary>The host's meter factory: measurements of other hosts in this process (other tests) are not this one's.</summary>
        public object? Scope { get; set; }

        public long Sum(string instrument, string item) =>
            (long)Mine(instrument).Where(m => Tag(m.Tags, "item") == item).Sum(m => m.Value);

        public double Gauge(string instrument, string item) =>
            GaugeOrNull(instrument, item) ?? throw new Xunit.Sdk.XunitException($"{instrument} reported nothing for {item}.");

        public double? GaugeOrNull(string instrument, string item)
        {
            Clear();
            _listener.RecordObservableInstruments();
            return Mine(instrument).Where(m => Tag(m.Tags, "item") == item).Select(m => (double?)m.Value).LastOrDefault();
        }

        public IReadOnlyList<(string Kind, string Outcome)> Durations() =>
            [.. Mine("replication.job.duration").Select(m => (Tag(m.Tags, "kind")!, Tag(m.Tags, "outcome")!))];

        /// <summary>Forgets the gauges' observations (counters and histograms keep theirs).</summary>
        public void Clear()
        {
            var keep = _measurements.Where(m => !m.Instrument.StartsWith("replication.item.", StringComparison.Ordinal)).ToList();
            _measurements.Clear();
            foreach (var m in keep)
            {
                _measurements.Enqueue(m);
            }
        }

        public void Dispose() => _listener.Dispose();

        private IEnumerable<(string Instrument, object? Scope, double Value, KeyValuePair<string, object?>[] Tags)> Mine(string instrument) =>
            _measurements.Where(m => m.Instrument == instrument && ReferenceEquals(m.Scope, Scope));

        private static string? Tag(KeyValuePair<string, object?>[] tags, string name) =>
            tags.FirstOrDefault(t => t.Key == name).Value as string;
    }
}
