using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Replication.Hosting.Items;
using Replication.Hosting.Storage;

namespace Replication.Hosting.Observability;

/// <summary>
/// The host's health: unhealthy while an item is critical, degraded while an item's RPO exceeds its policy (older than
/// twice its copy frequency, or retrying), healthy otherwise. Reads the store, so it answers while the site is unreachable.
/// </summary>
internal sealed class ReplicationHealthCheck(IReplicationStore store, TimeProvider time) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<HostedItem> items;
        try
        {
            items = await store.ListItemsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicationStoreException ex)
        {
            return HealthCheckResult.Unhealthy("The host's store cannot be read.", ex);
        }

        DateTimeOffset now = time.GetUtcNow();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var critical = new List<string>();
        var late = new List<string>();
        foreach (HostedItem item in items)
        {
            if (item.State == HostedItemState.Critical)
            {
                critical.Add($"{item.Name}: {item.CriticalReason}");
                continue;
            }

            if (item.LastRecoveryPointAt is { } at)
            {
                double rpo = (now - at).TotalSeconds;
                data[item.Name + ".rpoSeconds"] = Math.Round(rpo, 1);
                if (rpo > 2 * item.Policy.CopyFrequency.TotalSeconds)
                {
                    late.Add(string.Create(CultureInfo.InvariantCulture, $"{item.Name}: RPO {rpo:0} s exceeds {2 * item.Policy.CopyFrequency.TotalSeconds:0} s"));
                }
            }
            else if (item.State == HostedItemState.Retrying)
            {
                late.Add($"{item.Name}: retrying before its first recovery point");
            }
        }

        return critical.Count > 0
            ? HealthCheckResult.Unhealthy("Critical: " + string.Join("; ", critical), data: data)
            : late.Count > 0
                ? HealthCheckResult.Degraded(string.Join("; ", late), data: data)
                : HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"{items.Count} items within their RPO."), data);
    }
}
