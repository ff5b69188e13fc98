using System.Globalization;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;

namespace Replication.Core.Replication.Sites;

/// <summary>
/// A recovery site in an Azure Blob container: <c>items/NAME/item.json</c> (a block blob) holds an item's record and
/// <c>items/NAME/disk-N.vhd</c> each disk's replica, a page blob holding a fixed VHD (<see cref="AzurePageBlobTarget"/>),
/// with its recovery points as snapshots. Records are written conditionally on their ETag.
/// </summary>
/// <remarks>
/// Each constructor's optional <c>timeProvider</c> is the clock the replicas' leases and retries are measured with
/// (the engine's, for one clock throughout); <see cref="TimeProvider.System"/> when null.
/// </remarks>
public sealed class AzureReplicationSite : IReplicationSite
{
    private readonly BlobContainerClient _container;
    private readonly Func<string, IReplicaTarget> _target;

    /// <summary>Uses a storage account's connection string.</summary>
    /// <exception cref="ArgumentException">The connection string or container name is not valid (the message does not repeat the string).</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzureReplicationSite(string connectionString, string containerName, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentException.ThrowIfNullOrEmpty(containerName);
        try
        {
            _container = new BlobContainerClient(connectionString, containerName, ClientOptions(options));
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new ArgumentException("The storage connection string is not valid.", nameof(connectionString));
        }

        Location = new UriBuilder(_container.Uri) { Query = "" }.Uri.ToString();
        _target = blob => new AzurePageBlobTarget(connectionString, containerName, blob, options, timeProvider);
    }

    /// <summary>Uses a container URI (no query) and a token credential, such as Azure.Identity's DefaultAzureCredential.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzureReplicationSite(Uri containerUri, TokenCredential credential, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(containerUri);
        ArgumentNullException.ThrowIfNull(credential);
        _container = new BlobContainerClient(containerUri, credential, ClientOptions(options));
        Location = new UriBuilder(containerUri) { Query = "" }.Uri.ToString();
        _target = blob => new AzurePageBlobTarget(containerUri, credential, blob, options, timeProvider);
    }

    /// <summary>
    /// Uses a container SAS URI (its query carries the signature; it needs read, write, delete, list and create rights).
    /// The site's <see cref="Location"/> and its messages leave the query out.
    /// </summary>
    /// <exception cref="ArgumentException">The URI has no query (no signature).</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzureReplicationSite(Uri containerSasUri, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(containerSasUri);
        if (string.IsNullOrEmpty(containerSasUri.Query))
        {
            throw new ArgumentException("A container SAS URI carries its signature in its query; this one has none.", nameof(containerSasUri));
        }

        _container = new BlobContainerClient(containerSasUri, ClientOptions(options));
        Location = new UriBuilder(containerSasUri) { Query = "" }.Uri.ToString();
        _target = blob => new AzurePageBlobTarget(containerSasUri, blob, options, timeProvider);
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    public IReplicaTarget GetDiskTarget(string item, int disk)
    {
        ItemNames.Check(item);
        ArgumentOutOfRangeException.ThrowIfNegative(disk);
        return _target(string.Create(CultureInfo.InvariantCulture, $"items/{item}/disk-{disk}.vhd"));
    }

    /// <inheritdoc />
    public long ReplicaSizeFor(long virtualSize) => (virtualSize + (1 << 20) - 1) / (1 << 20) * (1 << 20);

    /// <inheritdoc />
    public async ValueTask EnsureWritableAsync(bool create, CancellationToken cancellationToken = default)
    {
        try
        {
            if (create)
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            BlockBlobClient probe = _container.GetBlockBlobClient($".write-probe-{Guid.NewGuid():N}");
            await probe.UploadAsync(new MemoryStream([1]), cancellationToken: cancellationToken).ConfigureAwait(false);
            await probe.DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "checking the site", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async ValueTask<SiteRecord?> ReadRecordAsync(string item, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        BlockBlobClient blob = RecordBlob(item);
        try
        {
            BlobDownloadResult result = (await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
            return new SiteRecord(result.Content.ToMemory(), result.Details.ETag.ToString(), blob.Uri.GetLeftPart(UriPartial.Path));
        }
        catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode is "BlobNotFound")
        {
            return null;
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, $"reading the record of '{item}'", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteRecordAsync(string item, ReadOnlyMemory<byte> content, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        BlockBlobClient blob = RecordBlob(item);
        var conditions = expectedVersion is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(expectedVersion) };
        try
        {
            BlobContentInfo info = (await blob.UploadAsync(
                new MemoryStream(content.ToArray(), writable: false),
                new BlobUploadOptions { Conditions = conditions, HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } },
                cancellationToken).ConfigureAwait(false)).Value;
            return info.ETag.ToString();
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            throw new ReplicationException(
                ReplicationErrorCode.Conflict, true, $"{Location}: the record of '{item}' changed since it was read (another writer is working on it).", ex);
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, $"writing the record of '{item}'", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var names = new List<string>();
        try
        {
            await foreach (BlobItem blob in _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, "items/", cancellationToken).ConfigureAwait(false))
            {
                string[] parts = blob.Name.Split('/');
                if (parts is ["items", var name, "item.json"] && ItemNames.IsValid(name))
                {
                    names.Add(name);
                }
            }
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "listing items", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }

        foreach (string name in names.Order(StringComparer.Ordinal))
        {
            yield return name;
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteItemAsync(string item, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        try
        {
            // The record first: a crash part way leaves no record naming replicas that are half gone.
            await RecordBlob(item).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var blobs = new List<string>();
            await foreach (BlobItem blob in _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"items/{item}/", cancellationToken).ConfigureAwait(false))
            {
                blobs.Add(blob.Name);
            }

            foreach (string name in blobs)
            {
                BlobClient blob = _container.GetBlobClient(name);
                try
                {
                    await blob.GetBlobLeaseClient().BreakAsync(TimeSpan.Zero, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (RequestFailedException ex) when (ex.Status is 404 or 409)
                {
                    // No lease to break (409: none held).
                }

                await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, $"deleting '{item}'", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    private static BlobClientOptions ClientOptions(AzurePageBlobTargetOptions? options) => options?.ClientOptions ?? new BlobClientOptions();

    private BlockBlobClient RecordBlob(string item) => _container.GetBlockBlobClient($"items/{item}/item.json");
}
