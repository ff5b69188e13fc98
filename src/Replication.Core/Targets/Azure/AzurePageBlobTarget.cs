using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;
using Replication.Core.Resilience;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// A replica target in Azure Blob Storage: the replica is a page blob holding a fixed VHD (the disk, then the 512-byte
/// footer; a whole number of MiB plus 512 bytes) that a VM can boot from; staged logs are block blobs with their
/// XxHash128 in metadata; the manifest is a block blob; recovery points are snapshots of the page blob; the writer
/// fence is a blob lease plus the page blob's sequence number, which every page write is conditioned on, so the service
/// itself rejects a writer that lost the fence.
/// </summary>
/// <remarks>
/// Authenticate with a connection string, a container URI and a <see cref="TokenCredential"/> (for example
/// Azure.Identity's DefaultAzureCredential), or a container SAS URI. Requests other than the replica's data are retried
/// here (<see cref="AzurePageBlobTargetOptions.Retry"/>); data requests are single attempts that the transfer pipeline
/// retries. No message or exception this target raises carries a key, SAS signature or token.
/// </remarks>
public class AzurePageBlobTarget : IReplicaTarget
{
    internal const string ManifestMetadata = "repl_manifest";
    internal const string HashMetadata = "repl_xxh128";
    internal const string LabelMetadata = "repl_label";
    internal const string ReplicaStampMetadata = "repl_replica_stamp";
    private const int BlockSize = 4 << 20;
    private const long MaxBlobSize = 8L << 40;

    private readonly AzurePageBlobTargetOptions _options;
    private readonly BlobContainerClient _container;
    private readonly BlobContainerClient _staging;
    private readonly string _blobName;
    private readonly TransientRetry _retry;

    /// <summary>Uses a storage account's connection string.</summary>
    /// <exception cref="ArgumentException">The connection string, a name or the options are not valid (the message does not repeat the string).</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzurePageBlobTarget(string connectionString, string containerName, string blobName, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
        : this(ServiceFromConnectionString(connectionString, options), containerName, blobName, options, timeProvider)
    {
    }

    /// <summary>Uses a container URI (no query) and a token credential.</summary>
    /// <exception cref="ArgumentException">A name or the options are not valid.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzurePageBlobTarget(Uri containerUri, TokenCredential credential, string blobName, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
        : this(Check(containerUri, credential, blobName, options, out BlobClientOptions client) is var container
            ? new BlobContainerClient(container, credential, client)
            : null!, StagingFor(containerUri, credential, options, client), blobName, options, timeProvider)
    {
    }

    /// <summary>Uses a container URI that carries a SAS token in its query; logs are staged in the same container.</summary>
    /// <exception cref="ArgumentException">A name or the options are not valid, or a separate staging container was asked for.</exception>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "The Azure SDK shape: every constructor takes an optional options bag.")]
    public AzurePageBlobTarget(Uri containerSasUri, string blobName, AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null)
        : this(SasContainer(containerSasUri, blobName, options), null, blobName, options, timeProvider)
    {
    }

    private AzurePageBlobTarget(BlobServiceClient service, string containerName, string blobName, AzurePageBlobTargetOptions? options, TimeProvider? timeProvider)
        : this(service.GetBlobContainerClient(CheckContainer(containerName)),
               service.GetBlobContainerClient(CheckContainer(options?.StagingContainerName ?? containerName)),
               blobName,
               options,
               timeProvider)
    {
    }

    private AzurePageBlobTarget(BlobContainerClient container, BlobContainerClient? staging, string blobName, AzurePageBlobTargetOptions? options, TimeProvider? timeProvider)
    {
        CheckBlob(blobName);
        _options = options ?? AzurePageBlobTargetOptions.Default;
        OptionFailures.ThrowIfAny(_options.Validate(), nameof(options));
        Time = timeProvider ?? TimeProvider.System;
        _container = container;
        _staging = staging ?? container;
        _blobName = blobName;
        PageBlob = container.GetPageBlobClient(blobName);
        Location = new UriBuilder(PageBlob.Uri) { Query = "" }.Uri.ToString();
        _retry = new TransientRetry(_options.Retry, _options.RequestTimeout, Time);
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    /// <remarks>
    /// Sizes are whole MiB (the page blob holds the disk and the 512-byte VHD footer) up to 8 TiB − 1 MiB; recovery points
    /// are page-blob snapshots, which Get Page Ranges Diff compares; zeroing clears pages, which frees them.
    /// </remarks>
    public virtual ReplicaTargetCapabilities Capabilities { get; } = new(1 << 20, MaxBlobSize - (1 << 20))
    {
        HasSnapshots = true,
        HasPageRangeDiff = true,
        FreesZeroedRanges = true,
    };

    internal PageBlobClient PageBlob { get; }

    internal AzurePageBlobTargetOptions Options => _options;

    internal TimeProvider Time { get; }

    internal string LogPrefix => _blobName + ".logs/";

    /// <inheritdoc />
    public virtual async ValueTask<StagedLog> PutLogAsync(string name, Stream content, UInt128? expectedHash = null, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        ArgumentNullException.ThrowIfNull(content);
        BlockBlobClient blob = _staging.GetBlockBlobClient(LogPrefix + name);
        if (await TryGetHashAsync(blob, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return await ReplicaRequests.SameAsStagedAsync(Location, Location, name, content, expectedHash, (existing.Hash, existing.Length), cancellationToken).ConfigureAwait(false);
        }

        (UInt128 hash, long length, List<string> blocks) = await StageBlocksAsync(blob, content, cancellationToken).ConfigureAwait(false);
        if (expectedHash is { } expected && expected != hash)
        {
            throw ReplicaRequests.IntegrityFailure($"{Location}: log '{name}'", expected, hash);
        }

        ReplicaTargetException? conflict = null;
        try
        {
            await RunAsync(
                ct => blob.CommitBlockListAsync(blocks, new CommitBlockListOptions
                {
                    Metadata = new Dictionary<string, string> { [HashMetadata] = ReplicaRequests.FormatHash(hash) },
                    Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                }, ct),
                $"staging log '{name}'",
                cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.Status is 409 or 412)
        {
            conflict = ex;
        }

        if (conflict is not null)
        {
            // Staged concurrently, or by an earlier attempt whose answer was lost.
            (UInt128 Hash, long Length, string? Stamp)? raced = await TryGetHashAsync(blob, cancellationToken).ConfigureAwait(false);
            return raced is { } r && r.Hash == hash && r.Length == length
                ? new StagedLog(name, length, hash)
                : throw new ReplicaTargetException(ReplicationErrorCode.Conflict, false, $"{Location}: a log named '{name}' with other content is already staged.", innerException: conflict);
        }

        return new StagedLog(name, length, hash);
    }

    /// <inheritdoc />
    public virtual async IAsyncEnumerable<StagedLog> ListLogsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var logs = new List<StagedLog>();
        try
        {
            await foreach (BlobItem item in _staging.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, LogPrefix, cancellationToken).ConfigureAwait(false))
            {
                if (item.Metadata.TryGetValue(HashMetadata, out string? text) && ReplicaRequests.TryParseHash(text, out UInt128 hash))
                {
                    logs.Add(new StagedLog(item.Name[LogPrefix.Length..], item.Properties.ContentLength ?? 0, hash));
                }
            }
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "listing staged logs", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }

        foreach (StagedLog log in logs.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            yield return log;
        }
    }

    /// <inheritdoc />
    public virtual async ValueTask<Stream> OpenLogAsync(string name, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        return await DownloadVerifiedAsync(_staging.GetBlockBlobClient(LogPrefix + name), $"log '{name}'", cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{Location}: no log named '{name}' is staged.");
    }

    /// <inheritdoc />
    public virtual async ValueTask<bool> DeleteLogAsync(string name, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        BlockBlobClient blob = _staging.GetBlockBlobClient(LogPrefix + name);
        return await RunAsync(async ct => (await blob.DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false)).Value, $"deleting log '{name}'", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public virtual async ValueTask<long?> GetReplicaSizeAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await RunAsync(async ct => await PageBlobDisk.ReadFooterAsync(PageBlob, Location, ct).ConfigureAwait(false), "reading the replica", cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.NotFound && ex.ServiceErrorCode == "BlobNotFound")
        {
            return null;
        }
    }

    /// <inheritdoc />
    /// <remarks>Azure needs a whole number of MiB: the page blob is <paramref name="virtualSize"/> + 512 bytes (the VHD footer).</remarks>
    public virtual async ValueTask<bool> CreateReplicaAsync(long virtualSize, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckSize(virtualSize);
        if (virtualSize % (1 << 20) != 0 || virtualSize > MaxBlobSize - (1 << 20))
        {
            throw new ArgumentOutOfRangeException(nameof(virtualSize), virtualSize, "An Azure replica's size must be a whole number of MiB, at most 8 TiB - 1 MiB.");
        }

        bool created = false;
        try
        {
            await RunAsync(
                ct => PageBlob.CreateAsync(virtualSize + FixedVhdFooter.Size, new PageBlobCreateOptions { Conditions = new PageBlobRequestConditions { IfNoneMatch = ETag.All } }, ct),
                "creating the replica",
                cancellationToken).ConfigureAwait(false);
            created = true;
        }
        catch (ReplicaTargetException ex) when (ex.Status is 409 or 412)
        {
            // It exists: check its size and footer below.
        }

        if (!created)
        {
            long existing = await RunAsync(ct => PageBlob.GetPropertiesAsync(cancellationToken: ct), "reading the replica", cancellationToken).ConfigureAwait(false) is var p
                ? p.Value.ContentLength - FixedVhdFooter.Size
                : 0;
            if (existing != virtualSize)
            {
                throw new ReplicaTargetException(ReplicationErrorCode.Conflict, false, $"{Location}: a replica of {existing} bytes exists; it cannot become {virtualSize} bytes.");
            }

            byte[] footer = new byte[FixedVhdFooter.Size];
            await RunAsync(async ct => { await PageBlobDisk.ReadRangeAsync(PageBlob, virtualSize, footer, ct).ConfigureAwait(false); return 0; }, "reading the replica's footer", cancellationToken).ConfigureAwait(false);
            if (FixedVhdFooter.TryRead(footer, out long stated, out _) && stated == virtualSize)
            {
                return false;
            }

            if (footer.AsSpan().ContainsAnyExcept((byte)0))
            {
                throw new InvalidDiskFormatException(Location, virtualSize, "VHD footer", "the blob's last 512 bytes are not a fixed VHD footer");
            }

            // Created by an attempt that stopped before its footer was written: finish it.
        }

        byte[] bytes = new byte[FixedVhdFooter.Size];
        FixedVhdFooter.Write(bytes, virtualSize, Guid.NewGuid(), Time.GetUtcNow());
        await RunAsync(
            ct => PageBlob.UploadPagesAsync(new MemoryStream(bytes, writable: false), virtualSize, AzurePageBlobWriter.UploadOptions(bytes, null), ct),
            "writing the replica's footer",
            cancellationToken).ConfigureAwait(false);
        return created;
    }

    /// <inheritdoc />
    public virtual async ValueTask<IVirtualDisk> OpenReplicaAsync(CancellationToken cancellationToken = default) =>
        await RunAsync(async ct => await PageBlobDisk.OpenAsync(PageBlob, Location, ct).ConfigureAwait(false), "opening the replica", cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public virtual ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) =>
        OpenManifestAsync(expectedStamp: null, cancellationToken);

    /// <summary>
    /// The page blob's stamp: its ETag (which every change to its pages, size or metadata moves), sequence number and
    /// length, as text kept in the manifest blob's metadata.
    /// </summary>
    internal static string Stamp(ETag etag, long sequenceNumber, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"{etag.ToString().Trim('"')};{sequenceNumber};{length}");

    /// <summary>
    /// The stored manifest when its recorded replica stamp is <paramref name="expectedStamp"/> (a writer's view) or,
    /// when that is null, the page blob's stamp now; otherwise none, with the reason.
    /// </summary>
    internal async ValueTask<StoredManifest> OpenManifestAsync(string? expectedStamp, CancellationToken cancellationToken)
    {
        BlobProperties properties;
        try
        {
            properties = await RunAsync(async ct => (await PageBlob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value, "reading the replica", cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.ServiceErrorCode == "BlobNotFound")
        {
            return StoredManifest.None($"{Location}: no replica exists.");
        }

        if (!properties.Metadata.TryGetValue(ManifestMetadata, out string? name))
        {
            return StoredManifest.None($"{Location}: no manifest is stored.");
        }

        expectedStamp ??= Stamp(properties.ETag, properties.BlobSequenceNumber, properties.ContentLength);
        BlockBlobClient blob = _container.GetBlockBlobClient(name);
        (UInt128 Hash, long Length, string? Stamp)? recorded = await TryGetHashAsync(blob, cancellationToken).ConfigureAwait(false);
        if (recorded is null)
        {
            return StoredManifest.None($"{Location}: the manifest blob '{name}' the replica names is missing.");
        }

        if (recorded.Value.Stamp is null)
        {
            return StoredManifest.None($"{Location}: the manifest records no replica stamp (its writer stopped before recording it, or an older version stored it).");
        }

        if (!string.Equals(recorded.Value.Stamp, expectedStamp, StringComparison.Ordinal))
        {
            return StoredManifest.None(
                $"{Location}: the replica changed since its manifest was stored (its ETag, sequence number or size differs: written, resized or replaced by something other than this writer).");
        }

        Stream? content = await DownloadVerifiedAsync(blob, "the manifest", cancellationToken).ConfigureAwait(false);
        return content is null ? StoredManifest.None($"{Location}: the manifest blob '{name}' the replica names is missing.") : StoredManifest.Current(content, $"{Location}: manifest blob '{name}'");
    }

    /// <inheritdoc />
    public virtual async IAsyncEnumerable<RecoveryPoint> ListRecoveryPointsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var points = new List<RecoveryPoint>();
        try
        {
            await foreach (BlobItem item in _container.GetBlobsAsync(BlobTraits.Metadata, BlobStates.Snapshots, _blobName, cancellationToken).ConfigureAwait(false))
            {
                if (item.Name == _blobName && !string.IsNullOrEmpty(item.Snapshot))
                {
                    points.Add(ToPoint(item.Snapshot, item.Metadata));
                }
            }
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "listing recovery points", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }

        foreach (RecoveryPoint point in points.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal))
        {
            yield return point;
        }
    }

    /// <inheritdoc />
    public virtual async ValueTask<IVirtualDisk> OpenRecoveryPointAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        PageBlobClient snapshot = PageBlob.WithSnapshot(id);
        try
        {
            return await RunAsync(async ct => await PageBlobDisk.OpenAsync(snapshot, $"{Location}?snapshot={id}", ct).ConfigureAwait(false), "opening a recovery point", cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.NotFound || ex.Status == 400)
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{Location}: there is no recovery point '{id}'.", ex.Status, ex.ServiceErrorCode, innerException: ex);
        }
    }

    /// <inheritdoc />
    public virtual async ValueTask<IReplicaWriter> AcquireWriterAsync(ReplicaWriterOptions? options = null, CancellationToken cancellationToken = default) =>
        await AzurePageBlobWriter.AcquireAsync(this, options ?? ReplicaWriterOptions.Default, cancellationToken).ConfigureAwait(false);

    internal static RecoveryPoint ToPoint(string snapshot, IDictionary<string, string>? metadata)
    {
        DateTimeOffset created = DateTimeOffset.TryParse(snapshot, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset at) ? at : default;
        string? label = metadata is not null && metadata.TryGetValue(LabelMetadata, out string? escaped) ? Uri.UnescapeDataString(escaped) : null;
        return new RecoveryPoint(snapshot, created, label);
    }

    /// <summary>Runs a control request with mapped errors and this target's retries.</summary>
    internal async ValueTask<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, string what, CancellationToken cancellationToken)
    {
        T result = default!;
        await _retry.ExecuteAsync(
            async (op, ct) =>
            {
                try
                {
                    result = await op(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (AzureErrors.TryMap(ex, Location, what, ct, out ReplicaTargetException mapped))
                {
                    throw mapped;
                }
            },
            operation,
            $"{Location}: {what}",
            cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Uploads a stream as blocks of a block blob (not yet committed), hashing it on the way.</summary>
    internal async ValueTask<(UInt128 Hash, long Length, List<string> Blocks)> StageBlocksAsync(BlockBlobClient blob, Stream content, CancellationToken cancellationToken)
    {
        var hasher = new XxHash128();
        var blocks = new List<string>();
        long length = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            int n;
            while ((n = await content.ReadAtLeastAsync(buffer.AsMemory(0, BlockSize), BlockSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.Append(buffer.AsSpan(0, n));
                string id = Convert.ToBase64String(BitConverter.GetBytes((long)blocks.Count).Concat(Guid.NewGuid().ToByteArray()).ToArray());
                int count = n;
                await RunAsync(ct => blob.StageBlockAsync(id, new MemoryStream(buffer, 0, count, writable: false), cancellationToken: ct), "staging a block", cancellationToken).ConfigureAwait(false);
                blocks.Add(id);
                length += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (hasher.GetCurrentHashAsUInt128(), length, blocks);
    }

    private async ValueTask<(UInt128 Hash, long Length, string? Stamp)?> TryGetHashAsync(BlobBaseClient blob, CancellationToken cancellationToken)
    {
        try
        {
            BlobProperties properties = await RunAsync(async ct => (await blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value, "reading a blob's properties", cancellationToken).ConfigureAwait(false);
            return properties.Metadata.TryGetValue(HashMetadata, out string? text) && ReplicaRequests.TryParseHash(text, out UInt128 hash)
                ? (hash, properties.ContentLength, properties.Metadata.TryGetValue(ReplicaStampMetadata, out string? stamp) ? stamp : null)
                : null;
        }
        catch (ReplicaTargetException ex) when (ex.ServiceErrorCode == "BlobNotFound" || (ex.Status == 404 && ex.ServiceErrorCode is null))
        {
            return null;
        }
    }

    /// <summary>Downloads a blob whose metadata holds its XxHash128 into a temporary file, checking the hash; null when it does not exist.</summary>
    private async ValueTask<Stream?> DownloadVerifiedAsync(BlobBaseClient blob, string what, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var file = new FileStream(
                Path.Combine(Path.GetTempPath(), $"repl-{Guid.NewGuid():N}.tmp"),
                FileMode.CreateNew,
                FileAccess.ReadWrite,
                FileShare.None,
                bufferSize: 0,
                FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            try
            {
                BlobDownloadStreamingResult result;
                try
                {
                    result = (await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
                }
                catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode != "ContainerNotFound")
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                using (result)
                {
                    if (!result.Details.Metadata.TryGetValue(HashMetadata, out string? text) || !ReplicaRequests.TryParseHash(text, out UInt128 expected))
                    {
                        throw new ReplicaTargetException(ReplicationErrorCode.IntegrityCheckFailed, false, $"{Location}: {what} carries no {HashMetadata} metadata.");
                    }

                    (UInt128 actual, _) = await ReplicaRequests.CopyAndHashAsync(result.Content, file, cancellationToken).ConfigureAwait(false);
                    if (actual != expected)
                    {
                        throw ReplicaRequests.IntegrityFailure($"{Location}: {what}", expected, actual);
                    }
                }

                file.Position = 0;
                return file;
            }
            catch (Exception ex) when (AzureErrors.TryMap(ex, Location, $"downloading {what}", cancellationToken, out ReplicaTargetException mapped) && mapped.IsRecoverable && attempt < _options.Retry.MaxAttempts)
            {
                await file.DisposeAsync().ConfigureAwait(false);
                await Task.Delay(_options.Retry.BaseDelay * attempt, Time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                await file.DisposeAsync().ConfigureAwait(false);
                if (AzureErrors.TryMap(ex, Location, $"downloading {what}", cancellationToken, out ReplicaTargetException mapped))
                {
                    throw mapped;
                }

                throw;
            }
        }
    }

    private static BlobServiceClient ServiceFromConnectionString(string connectionString, AzurePageBlobTargetOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        try
        {
            return new BlobServiceClient(connectionString, ClientOptions(options));
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            // The SDK's message may quote the string, key included: say what is wrong without it.
            throw new ArgumentException("The storage connection string is not valid (expected AccountName, AccountKey and an endpoint or DefaultEndpointsProtocol).", nameof(connectionString));
        }
    }

    private static Uri Check(Uri containerUri, TokenCredential credential, string blobName, AzurePageBlobTargetOptions? options, out BlobClientOptions client)
    {
        ArgumentNullException.ThrowIfNull(containerUri);
        ArgumentNullException.ThrowIfNull(credential);
        CheckBlob(blobName);
        client = ClientOptions(options);
        return containerUri;
    }

    private static BlobContainerClient? StagingFor(Uri containerUri, TokenCredential credential, AzurePageBlobTargetOptions? options, BlobClientOptions client)
    {
        if (options?.StagingContainerName is not { } staging)
        {
            return null;
        }

        var builder = new BlobUriBuilder(containerUri) { BlobContainerName = CheckContainer(staging) };
        return new BlobContainerClient(builder.ToUri(), credential, client);
    }

    private static BlobContainerClient SasContainer(Uri containerSasUri, string blobName, AzurePageBlobTargetOptions? options)
    {
        ArgumentNullException.ThrowIfNull(containerSasUri);
        CheckBlob(blobName);
        if (options?.StagingContainerName is not null)
        {
            throw new ArgumentException("A container SAS reaches one container: logs are staged in it, so no separate staging container can be used.", nameof(options));
        }

        return new BlobContainerClient(containerSasUri, ClientOptions(options));
    }

    private static BlobClientOptions ClientOptions(AzurePageBlobTargetOptions? options)
    {
        BlobClientOptions client = options?.ClientOptions ?? new BlobClientOptions();
        client.Retry.MaxRetries = 0;
        return client;
    }

    private static string CheckContainer(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length is < 3 or > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name[0] == '-' || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' is not a valid container name (3 to 63 lower-case letters, digits and single hyphens).", nameof(name));
        }

        return name;
    }

    private static void CheckBlob(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > 900 || name.EndsWith('.') || name.EndsWith('/'))
        {
            throw new ArgumentException($"'{name}' is not a valid blob name.", nameof(name));
        }
    }
}
