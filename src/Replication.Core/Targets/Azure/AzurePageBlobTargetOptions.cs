using Azure.Storage.Blobs;
using Replication.Core.Transfer;

namespace Replication.Core.Targets.Azure;

/// <summary>How an <see cref="AzurePageBlobTarget"/> talks to the service. Immutable; validated when set.</summary>
public sealed record AzurePageBlobTargetOptions
{
    /// <summary>Default SDK options, logs staged beside the replica, 60 s leases, the default retries.</summary>
    public static AzurePageBlobTargetOptions Default { get; } = new();

    /// <summary>
    /// SDK options (transport, service version, extra pipeline policies, network timeout). The target sets
    /// <c>Retry.MaxRetries</c> to 0 on them because it retries failed requests itself, counting and classifying them.
    /// </summary>
    public BlobClientOptions? ClientOptions { get; init; }

    /// <summary>The container that stages logs; null for the replica's own container.</summary>
    public string? StagingContainerName { get; init; }

    /// <summary>The writer fence's lease: 15 to 60 seconds, or <see cref="Timeout.InfiniteTimeSpan"/> (until released or broken).</summary>
    public TimeSpan LeaseDuration
    {
        get;
        init
        {
            if (value != Timeout.InfiniteTimeSpan && (value < TimeSpan.FromSeconds(15) || value > TimeSpan.FromSeconds(60)))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "A blob lease lasts 15 to 60 seconds, or is infinite.");
            }

            field = value;
        }
    } = TimeSpan.FromSeconds(60);

    /// <summary>How requests that are not driven by the transfer pipeline (create, lease, logs, manifest, snapshots) are retried.</summary>
    public TransferRetryOptions Retry
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TransferRetryOptions.Default;

    /// <summary>How long one attempt of such a request may take.</summary>
    public TimeSpan RequestTimeout
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromMinutes(2);

    /// <summary>The clock that leases and back-off are measured with.</summary>
    public TimeProvider TimeProvider
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TimeProvider.System;
}
