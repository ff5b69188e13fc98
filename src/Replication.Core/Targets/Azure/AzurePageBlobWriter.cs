using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Diff;
using Replication.Core.Disks;
using System.Runtime.CompilerServices;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// The writer of a page-blob replica. Holds the blob's lease and, having incremented the blob's sequence number when
/// it took the lease, conditions every page write and clear on that lease and sequence number: after another writer
/// breaks the lease and increments the number, the service rejects this writer's requests (412), which surface as
/// <see cref="ReplicationErrorCode.FenceLost"/>. Page writes carry a transactional MD5.
/// </summary>
internal sealed class AzurePageBlobWriter : IReplicaWriter
{
    private const int MaxPageWrite = 4 << 20;
    private const long MaxClear = 1L << 30;

    private readonly AzurePageBlobTarget _target;
    private readonly PageBlobClient _blob;
    private readonly BlobLeaseClient _lease;
    private readonly PageBlobRequestConditions _conditions;
    private readonly TimeSpan _duration;
    private readonly TimeProvider _time;
    private readonly ManifestGate<string> _manifest;
    private volatile string? _lost;
    private int _disposed;
    private readonly FenceKeeper _keeper;

    private AzurePageBlobWriter(AzurePageBlobTarget target, BlobLeaseClient lease, long sequenceNumber, long virtualSize, DateTimeOffset? expiresAt, string stamp)
    {
        _manifest = new ManifestGate<string>(target.Location, stamp);
        _target = target;
        _blob = target.PageBlob;
        _lease = lease;
        _duration = target.Options.LeaseDuration;
        _time = target.Time;
        _conditions = new PageBlobRequestConditions { LeaseId = lease.LeaseId, IfSequenceNumberEqual = sequenceNumber };
        FenceEpoch = sequenceNumber;
        VirtualSize = virtualSize;
        FenceExpiresAt = expiresAt;
        _keeper = new FenceKeeper(this, _duration, _time);
    }

    public string Location => _target.Location;

    public long VirtualSize { get; }

    public int WriteAlignment => ReplicaRequests.SectorSize;

    public bool IsReadOnly => false;

    public long FenceEpoch { get; }

    public DateTimeOffset? FenceExpiresAt { get; private set; }

    public static async ValueTask<AzurePageBlobWriter> AcquireAsync(AzurePageBlobTarget target, ReplicaWriterOptions options, CancellationToken cancellationToken)
    {
        PageBlobClient blob = target.PageBlob;
        long size;
        try
        {
            size = await target.RunAsync(async ct => await PageBlobDisk.ReadFooterAsync(blob, target.Location, ct).ConfigureAwait(false), "opening the replica", cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.ServiceErrorCode == "BlobNotFound")
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{target.Location}: no replica exists; create it first.", ex.Status, ex.ServiceErrorCode, innerException: ex);
        }

        BlobLeaseClient lease = blob.GetBlobLeaseClient(Guid.NewGuid().ToString());
        TimeSpan duration = target.Options.LeaseDuration;
        try
        {
            await target.RunAsync(ct => lease.AcquireAsync(duration, cancellationToken: ct), "taking the replica's lease", cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceHeld && !options.BreakExisting)
        {
            // The service does not say when another holder's lease ends; a lease this library takes lasts LeaseDuration
            // unless renewed, so a writer that stopped without releasing it has lost it by then.
            string until = duration == Timeout.InfiniteTimeSpan
                ? "until it releases it"
                : $"until {target.Time.GetUtcNow() + duration:O} at the latest unless it renews it (leases last {duration.TotalSeconds:0} s)";
            throw new ReplicaTargetException(
                ReplicationErrorCode.FenceHeld, true, $"{target.Location}: another writer holds the replica's lease {until}.", ex.Status, ex.ServiceErrorCode, innerException: ex);
        }
        catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceHeld && options.BreakExisting)
        {
            // An operator's decision: take the fence from a writer that hung. Its lease ends at once, and the sequence
            // number incremented below rejects anything it still sends.
            await target.RunAsync(ct => blob.GetBlobLeaseClient().BreakAsync(TimeSpan.Zero, cancellationToken: ct), "breaking the replica's lease", cancellationToken).ConfigureAwait(false);
            await target.RunAsync(ct => lease.AcquireAsync(duration, cancellationToken: ct), "taking the replica's lease", cancellationToken).ConfigureAwait(false);
        }

        DateTimeOffset? expires = duration == Timeout.InfiniteTimeSpan ? null : target.Time.GetUtcNow() + duration;
        try
        {
            // The replica as the lease found it, before this writer changes anything (the sequence number below included):
            // the stored manifest is trusted only when it was recorded for exactly this state. Under the lease no one
            // else can change the blob in between.
            BlobProperties found = await target.RunAsync(
                async ct => (await blob.GetPropertiesAsync(new BlobRequestConditions { LeaseId = lease.LeaseId }, ct).ConfigureAwait(false)).Value,
                "reading the replica",
                cancellationToken).ConfigureAwait(false);
            PageBlobInfo info = await target.RunAsync(
                async ct => (await blob.UpdateSequenceNumberAsync(SequenceNumberAction.Increment, conditions: new PageBlobRequestConditions { LeaseId = lease.LeaseId }, cancellationToken: ct).ConfigureAwait(false)).Value,
                "advancing the replica's sequence number",
                cancellationToken).ConfigureAwait(false);
            return new AzurePageBlobWriter(target, lease, info.BlobSequenceNumber, size, expires, AzurePageBlobTarget.Stamp(found.ETag, found.BlobSequenceNumber, found.ContentLength));
        }
        catch
        {
            await lease.ReleaseAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask RenewAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfLost();
        try
        {
            await _lease.RenewAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            FenceExpiresAt = _duration == Timeout.InfiniteTimeSpan ? null : _time.GetUtcNow() + _duration;
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "renewing the lease", cancellationToken, out ReplicaTargetException mapped))
        {
            throw Fenced(mapped);
        }
    }

    public async ValueTask ReleaseAsync(CancellationToken cancellationToken = default)
    {
        if (_lost is not null)
        {
            return;
        }

        try
        {
            await _lease.ReleaseAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            _lost = "it released the fence";
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "releasing the lease", cancellationToken, out ReplicaTargetException mapped))
        {
            throw Fenced(mapped);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckRange(offset, data.Length, VirtualSize, Location);
        ThrowIfLost();
        await WithdrawManifestAsync(cancellationToken).ConfigureAwait(false);
        for (int done = 0; done < data.Length;)
        {
            ReadOnlyMemory<byte> piece = data.Slice(done, Math.Min(MaxPageWrite, data.Length - done));
            Stream content = MemoryMarshal.TryGetArray(piece, out ArraySegment<byte> segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(piece.ToArray(), writable: false);
            try
            {
                await _blob.UploadPagesAsync(content, offset + done, UploadOptions(piece.Span, _conditions), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "a page write", cancellationToken, out ReplicaTargetException mapped))
            {
                throw Fenced(mapped);
            }
            finally
            {
                await content.DisposeAsync().ConfigureAwait(false);
            }

            done += piece.Length;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckRange(offset, length, VirtualSize, Location);
        ThrowIfLost();
        await WithdrawManifestAsync(cancellationToken).ConfigureAwait(false);
        for (long done = 0; done < length;)
        {
            long n = Math.Min(MaxClear, length - done);
            try
            {
                await _blob.ClearPagesAsync(new HttpRange(offset + done, n), _conditions, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "clearing pages", cancellationToken, out ReplicaTargetException mapped))
            {
                throw Fenced(mapped);
            }

            done += n;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckInside(offset, destination.Length, VirtualSize, Location);
        if (destination.IsEmpty)
        {
            return;
        }

        try
        {
            await PageBlobDisk.ReadRangeAsync(_blob, offset, destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, Location, "a read", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length)
    {
        ReplicaRequests.CheckInside(offset, length, VirtualSize, Location);
        return PageBlobDisk.PageRanges(_blob, Location, offset, length);
    }

    /// <summary>A Put Page is durable once acknowledged: nothing to flush, but a writer that lost the fence learns it here too.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfLost();
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ThrowIfLost();
        return _manifest.WriteAsync(static (s, ct) => s.Writer.StoreManifestAsync(s.Content, ct), (Writer: this, Content: content), cancellationToken);
    }

    public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) =>
        _manifest.OpenAsync(static (target, stamp, ct) => target.OpenManifestAsync(stamp, ct), _target, cancellationToken);

    public async ValueTask<RecoveryPoint> CreateRecoveryPointAsync(string? label = null, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckLabel(label);
        ThrowIfLost();
        var metadata = new Dictionary<string, string>();
        if (label is not null)
        {
            metadata[AzurePageBlobTarget.LabelMetadata] = Uri.EscapeDataString(label);
        }

        BlobSnapshotInfo info = await RunFencedAsync(
            async ct => (await _blob.CreateSnapshotAsync(metadata, new BlobRequestConditions { LeaseId = _lease.LeaseId }, ct).ConfigureAwait(false)).Value,
            "creating a recovery point",
            cancellationToken).ConfigureAwait(false);
        return AzurePageBlobTarget.ToPoint(info.Snapshot, metadata);
    }

    public async ValueTask<bool> DeleteRecoveryPointAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ThrowIfLost();

        // Snapshots take no lease: check the fence first, so a writer that lost it deletes nothing.
        await RunFencedAsync(ct => _blob.GetPropertiesAsync(new BlobRequestConditions { LeaseId = _lease.LeaseId }, ct), "checking the fence", cancellationToken).ConfigureAwait(false);
        return await _target.RunAsync(async ct => (await _blob.WithSnapshot(id).DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false)).Value, "deleting a recovery point", cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _keeper.DisposeAsync().ConfigureAwait(false);
        if (_lost is null)
        {
            try
            {
                await ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceLost || ex.IsRecoverable)
            {
                // Fenced off already, or unreachable: the lease then lapses by itself after its duration.
            }
        }
    }

    [SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Algorithms", Justification = "Transactional MD5 is the service's transport integrity check, not security.")]
    internal static PageBlobUploadPagesOptions UploadOptions(ReadOnlySpan<byte> data, PageBlobRequestConditions? conditions)
    {
        byte[] md5 = new byte[16];
        MD5.HashData(data, md5);
        return new PageBlobUploadPagesOptions
        {
            Conditions = conditions,
            TransferValidation = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5, PrecalculatedChecksum = md5 },
        };
    }

    /// <summary>
    /// Removes the manifest the replica names, under this writer's lease, before the first change to the data it
    /// describes: an interrupted writer never leaves a manifest that describes bytes the replica no longer holds.
    /// </summary>
    public ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default) =>
        _manifest.WithdrawAsync(static (writer, ct) => writer.RemoveManifestAsync(ct), this, cancellationToken);

    private async ValueTask RemoveManifestAsync(CancellationToken cancellationToken)
    {
        BlobProperties properties = await _target.RunAsync(async ct => (await _blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value, "reading the replica", cancellationToken).ConfigureAwait(false);
        if (properties.Metadata.TryGetValue(AzurePageBlobTarget.ManifestMetadata, out string? name))
        {
            var metadata = new Dictionary<string, string>(properties.Metadata, StringComparer.OrdinalIgnoreCase);
            metadata.Remove(AzurePageBlobTarget.ManifestMetadata);
            await RunFencedAsync(ct => _blob.SetMetadataAsync(metadata, new BlobRequestConditions { LeaseId = _lease.LeaseId }, ct), "withdrawing the manifest", cancellationToken).ConfigureAwait(false);
            await _target.RunAsync(ct => _blob.GetParentBlobContainerClient().GetBlobClient(name).DeleteIfExistsAsync(cancellationToken: ct), "deleting the withdrawn manifest", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stores a manifest and switches the replica to it under this writer's lease; records the replica stamp it describes.</summary>
    private async ValueTask StoreManifestAsync(Stream content, CancellationToken cancellationToken)
    {
        string name = $"{_blob.Name}.manifest-{Guid.NewGuid():N}";
        BlockBlobClient manifest = _target.PageBlob.GetParentBlobContainerClient().GetBlockBlobClient(name);
        (UInt128 hash, _, List<string> blocks) = await _target.StageBlocksAsync(manifest, content, cancellationToken).ConfigureAwait(false);
        var manifestMetadata = new Dictionary<string, string> { [AzurePageBlobTarget.HashMetadata] = ReplicaRequests.FormatHash(hash) };
        await _target.RunAsync(
            ct => manifest.CommitBlockListAsync(blocks, new CommitBlockListOptions { Metadata = manifestMetadata }, ct),
            "committing the manifest",
            cancellationToken).ConfigureAwait(false);

        // The switch to the new manifest is the fenced step: the page blob's metadata changes only under this writer's lease.
        BlobProperties properties = await _target.RunAsync(async ct => (await _blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value, "reading the replica", cancellationToken).ConfigureAwait(false);
        var metadata = new Dictionary<string, string>(properties.Metadata, StringComparer.OrdinalIgnoreCase);
        metadata.TryGetValue(AzurePageBlobTarget.ManifestMetadata, out string? previous);
        metadata[AzurePageBlobTarget.ManifestMetadata] = name;
        BlobInfo switched;
        try
        {
            switched = await _target.RunAsync(
                async ct => (await _blob.SetMetadataAsync(metadata, new BlobRequestConditions { LeaseId = _lease.LeaseId }, ct).ConfigureAwait(false)).Value,
                "switching to the new manifest",
                cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex)
        {
            await manifest.DeleteIfExistsAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
            throw Fenced(ex);
        }

        // The replica's stamp after that switch is the state the manifest describes: any later change to the blob,
        // by anyone, moves its ETag. Until it is recorded the manifest carries no stamp and is not trusted.
        string stamp = AzurePageBlobTarget.Stamp(switched.ETag, FenceEpoch, properties.ContentLength);
        manifestMetadata[AzurePageBlobTarget.ReplicaStampMetadata] = stamp;
        await _target.RunAsync(ct => manifest.SetMetadataAsync(manifestMetadata, cancellationToken: ct), "recording the replica's stamp", cancellationToken).ConfigureAwait(false);
        _manifest.Record(stamp);

        if (previous is not null && previous != name)
        {
            await _target.RunAsync(ct => _blob.GetParentBlobContainerClient().GetBlobClient(previous).DeleteIfExistsAsync(cancellationToken: ct), "deleting the old manifest", cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfLost()
    {
        if (_lost is { } reason)
        {
            throw new ReplicaTargetException(ReplicationErrorCode.FenceLost, false, $"{Location}: this writer (sequence number {FenceEpoch}) no longer holds the fence: {reason}.");
        }

        if (FenceExpiresAt is { } expires && _time.GetUtcNow() >= expires)
        {
            _lost = $"its lease lapsed at {expires:O} without being renewed";
            ThrowIfLost();
        }
    }

    /// <summary>Runs a control request under this writer's lease: an answer that the fence is lost marks the writer fenced off.</summary>
    private async ValueTask<T> RunFencedAsync<T>(Func<CancellationToken, Task<T>> operation, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await _target.RunAsync(operation, what, cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex)
        {
            throw Fenced(ex);
        }
    }

    private ReplicaTargetException Fenced(ReplicaTargetException ex)
    {
        if (ex.Code == ReplicationErrorCode.FenceLost)
        {
            _lost ??= "another writer took the fence over";
        }

        return ex;
    }
}
