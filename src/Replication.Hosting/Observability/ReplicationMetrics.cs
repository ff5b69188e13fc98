using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Replication.Core;
using Replication.Core.ChangeTracking;
using Replication.Hosting.Items;
using Replication.Hosting.Operations;

namespace Replication.Hosting.Observability;

/// <summary>
/// The host's <see cref="Meter"/>, named <see cref="MeterName"/> so that OpenTelemetry's <c>AddMeter</c> picks it up:
/// RPO and log backlog per item, bytes shipped, resync progress, retries and job durations.
/// </summary>
public sealed class ReplicationMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Replication.Hosting";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastPoint = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _logDirectories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _resync = new(StringComparer.Ordinal);
    private readonly Counter<long> _bytesShipped;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _jobDuration;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or one of its own when null).</summary>
    /// <param name="time">The clock RPO is measured by.</param>
    /// <param name="meterFactory">The container's meter factory, or null.</param>
    public ReplicationMetrics(TimeProvider time, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableGauge("replication.item.rpo", ObserveRpo, "s", "Seconds since each item's newest recovery point.");
        _meter.CreateObservableGauge("replication.item.log_backlog", ObserveBacklog, "By", "Bytes of change logs at the primary not yet shipped and released, per item.");
        _meter.CreateObservableGauge("replication.item.resync_progress", () => Observe(_resync), "1", "Fraction done of each running resync.");
        _bytesShipped = _meter.CreateCounter<long>("replication.bytes_shipped", "By", "Payload bytes sent to the site.");
        _retries = _meter.CreateCounter<long>("replication.retries", "{attempt}", "Attempts scheduled after a recoverable failure.");
        _jobDuration = _meter.CreateHistogram<double>("replication.job.duration", "s", "How long each job attempt ran.");
    }

    /// <summary>The items' RPO now, in seconds (what the gauge reports).</summary>
    public IReadOnlyDictionary<string, double> RpoSeconds() =>
        _lastPoint.ToDictionary(p => p.Key, p => Math.Max(0, (_time.GetUtcNow() - p.Value).TotalSeconds), StringComparer.Ordinal);

    /// <summary>
    /// The items' log backlog now, in bytes (what the gauge reports): for each disk of each item this host runs, the
    /// sealed logs its tracker still holds plus its active log as the tracker's state last recorded it, read from the disk's
    /// tracking folder when asked (without opening the disk). Items whose disks are not tracked yet, or whose tracking
    /// state cannot be read, are left out.
    /// </summary>
    public IReadOnlyDictionary<string, long> LogBacklogBytes()
    {
        var backlog = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach ((string item, string[] directories) in _logDirectories)
        {
            long total = 0;
            bool any = false;
            try
            {
                foreach (string directory in directories)
                {
                    if (TrackedDisk.Inspect(directory) is { } snapshot)
                    {
                        total += snapshot.SealedLogs.Sum(l => l.Length) + snapshot.ActiveLogBytes;
                        any = true;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ReplicationException)
            {
                // A state file being replaced or damaged says nothing about the backlog; the next observation reads it again.
                continue;
            }

            if (any)
            {
                backlog[item] = total;
            }
        }

        return backlog;
    }

    /// <summary>Reports <paramref name="item"/>'s log backlog from its disks' tracking folders from now on.</summary>
    internal void Track(HostedItem item) => _logDirectories[item.Name] = [.. item.Disks.Select(TrackedDiskMachineProvider.LogDirectory)];

    /// <summary>Stops reporting anything of <paramref name="item"/> (removed from the host, or run by another host).</summary>
    internal void Forget(string item)
    {
        _logDirectories.TryRemove(item, out _);
        _lastPoint.TryRemove(item, out _);
        _resync.TryRemove(item, out _);
    }

    internal void RecoveryPoint(string item, DateTimeOffset at) => _lastPoint.AddOrUpdate(item, at, (_, old) => at > old ? at : old);

    internal void ResyncProgress(string item, double? fraction)
    {
        if (fraction is { } f)
        {
            _resync[item] = f;
        }
        else
        {
            _resync.TryRemove(item, out _);
        }
    }

    internal void Shipped(string item, long bytes) => _bytesShipped.Add(bytes, new KeyValuePair<string, object?>("item", item));

    internal void Retry(string item) => _retries.Add(1, new KeyValuePair<string, object?>("item", item));

    internal void JobDuration(string kind, string outcome, TimeSpan duration) =>
        _jobDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Disposes the meter when it is the metrics' own.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<double>> ObserveRpo() =>
        RpoSeconds().Select(p => new Measurement<double>(p.Value, new KeyValuePair<string, object?>("item", p.Key)));

    private IEnumerable<Measurement<long>> ObserveBacklog() =>
        LogBacklogBytes().Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("item", p.Key)));

    private static IEnumerable<Measurement<T>> Observe<T>(ConcurrentDictionary<string, T> values)
        where T : struct =>
        values.Select(p => new Measurement<T>(p.Value, new KeyValuePair<string, object?>("item", p.Key)));
}
