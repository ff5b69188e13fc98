using Azure.Storage.Blobs;
using Replication.Core.IO;
using Replication.Core.Resilience;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// How an <see cref="AzurePageBlobTarget"/> talks to the service. Immutable; <see cref="Validate"/> lists what is wrong,
/// and the target refuses invalid options with an <see cref="ArgumentException"/> when it is created.
/// </summary>
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
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How requests that are not driven by the copy engine (create, lease, logs, manifest, snapshots) are retried.</summary>
    public RequestRetryOptions Retry { get; init; } = RequestRetryOptions.Default;

    /// <summary>How long one attempt of such a request may take; positive.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Range(LeaseDuration, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(60), nameof(LeaseDuration), allowInfinite: true)
        .Nested(Retry?.Validate(), nameof(Retry))
        .Range(RequestTimeout, TimeSpan.FromTicks(1), TimeSpan.MaxValue, nameof(RequestTimeout))
        .Failures;
}
