using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

public sealed partial class ReplicationEngine
{
    /// <summary>Beside each destination during a failback: the destination's manifest, kept between the passes.</summary>
    private const string FailbackManifestSuffix = ".failback-manifest";

    /// <summary>
    /// Copies a committed failover's recovered machine back: <see cref="FailbackMode.MinimizeDowntime"/> compares block
    /// checksums while the recovered machine keeps running and sends only what differs, then stops it (the request's
    /// callback) and sends what changed meanwhile; <see cref="FailbackMode.FullDownload"/> stops it and copies every disk
    /// whole; <see cref="FailbackMode.AlternateDisk"/> stops it and copies to other disk files, created when missing. Then
    /// the failback is committed: the item is failed back, ready for <see cref="ReverseReplicationAsync"/>.
    /// </summary>
    /// <remarks>
    /// The destinations are written as plain disk files (nothing may track them meanwhile); the next open of a tracked
    /// destination sees it changed and reverse replication resynchronises it. A failback killed part way is repeated by
    /// calling it again: the copies converge (a compare sends only what still differs).
    /// </remarks>
    /// <exception cref="ReplicationException">No such item, its state does not allow a failback, or a copy failed.</exception>
    public async Task<FailbackResult> FailbackAsync(FailbackRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ItemRecordHandle handle = await RequireAsync(request.Site, request.Name, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        if (record.State == ProtectionState.FailedBack)
        {
            // Asked again after it completed (its answer lost): nothing is left to copy.
            return new FailbackResult(request.Mode, [.. (request.Destinations ?? [.. record.Disks.Select(d => d.SourcePath)]).Select(Path.GetFullPath)]) { State = record.State };
        }

        ProtectionStateMachine.EnsureAllowed(request.Name, record.State, record.TestFailover is not null, ReplicationOperation.Failback);
        IReadOnlyList<string> recovered = request.RecoveredDisks ?? record.Failover?.Disks
            ?? throw new ReplicationException(ReplicationErrorCode.InvalidReplicaState, false, $"'{request.Name}': the failover recorded no recovered disks; name them.");
        IReadOnlyList<string> destinations = request.Destinations ?? [.. record.Disks.Select(d => d.SourcePath)];
        if (recovered.Count != record.Disks.Count || destinations.Count != record.Disks.Count)
        {
            throw new ArgumentException($"'{request.Name}' has {record.Disks.Count} disks: give as many recovered disks and destinations.", nameof(request));
        }

        record.State = ProtectionState.FailbackInProgress;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        await StepAsync("failback begun").ConfigureAwait(false);
        var result = new FailbackResult(request.Mode, [.. destinations.Select(Path.GetFullPath)]);
        if (request.Mode == FailbackMode.MinimizeDowntime)
        {
            // While the recovered machine runs: compare and send what differs (most of it, when the primary is far behind).
            // Each recovered disk's stamp is taken first: if the last pass finds it unchanged, nothing was written since.
            var before = new DiskStamp?[recovered.Count];
            for (int i = 0; i < recovered.Count; i++)
            {
                before[i] = StampBeforeFirstPass(recovered[i]);
                SyncResult pass = await SyncDiskAsync(recovered[i], destinations[i], cancellationToken).ConfigureAwait(false);
                result.BytesCompared += pass.BytesCompared;
                result.BytesSent += pass.DataBytesSent;
                await StepAsync("synchronised", i).ConfigureAwait(false);
            }

            long stopped = _time.GetTimestamp();
            await StopAsync(request, cancellationToken).ConfigureAwait(false);
            await StepAsync("recovered stopped").ConfigureAwait(false);
            for (int i = 0; i < recovered.Count; i++)
            {
                if (before[i] is { } stamp && await UnchangedSinceFirstPassAsync(recovered[i], destinations[i], stamp, cancellationToken).ConfigureAwait(false))
                {
                    // Not written since the first pass made the destination equal to it: nothing to hash or send.
                    result.DisksUnchangedSinceFirstPass++;
                    await StepAsync("copied", i).ConfigureAwait(false);
                    continue;
                }

                SyncResult pass = await SyncDiskAsync(recovered[i], destinations[i], cancellationToken).ConfigureAwait(false);
                result.BytesCompared += pass.BytesCompared;
                result.BytesSent += pass.DataBytesSent;
                result.BytesSentWhileStopped += pass.DataBytesSent;
                await StepAsync("copied", i).ConfigureAwait(false);
            }

            result.Downtime = _time.GetElapsedTime(stopped);
        }
        else
        {
            long stopped = _time.GetTimestamp();
            await StopAsync(request, cancellationToken).ConfigureAwait(false);
            await StepAsync("recovered stopped").ConfigureAwait(false);
            for (int i = 0; i < recovered.Count; i++)
            {
                long sent = request.Mode == FailbackMode.AlternateDisk && File.Exists(destinations[i])
                    ? (await SyncDiskAsync(recovered[i], destinations[i], cancellationToken).ConfigureAwait(false)).DataBytesSent
                    : await CopyWholeAsync(recovered[i], destinations[i], create: request.Mode == FailbackMode.AlternateDisk, cancellationToken).ConfigureAwait(false);
                result.BytesSent += sent;
                result.BytesSentWhileStopped += sent;
                await StepAsync("copied", i).ConfigureAwait(false);
            }

            result.Downtime = _time.GetElapsedTime(stopped);
        }

        record.State = ProtectionState.FailedBack;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        foreach (string destination in destinations)
        {
            // The compare's manifests served the failback's passes; reverse replication hashes afresh.
            File.Delete(destination + FailbackManifestSuffix);
        }

        result.State = record.State;
        return result;
    }

    /// <summary>
    /// Protects the primary again after a failback: every disk is resynchronised against its replica by block hashes
    /// (only the differences are sent; the replicas still hold the failover's point), the logs written meanwhile are
    /// applied, a recovery point is made, and delta cycles go on.
    /// </summary>
    /// <exception cref="ReplicationException">No such item, its state does not allow it, or the resync failed (a rerun resumes it).</exception>
    public async Task<ReplicationRunResult> ReverseReplicationAsync(ProtectedMachine machine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ItemRecordHandle handle = await OpenAsync(machine, cancellationToken).ConfigureAwait(false);
        SiteItemRecord record = handle.Record;
        ProtectionStateMachine.EnsureAllowed(machine.Name, record.State, record.TestFailover is not null, ReplicationOperation.ReverseReplication);
        if (record.State != ProtectionState.ReverseReplication)
        {
            record.State = ProtectionState.ReverseReplication;
            record.Failover = null;
            await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        }

        return await RunAsync(machine, handle, ReplicationOperation.Resync, cancellationToken, forced: true).ConfigureAwait(false);
    }

    private static async Task StopAsync(FailbackRequest request, CancellationToken cancellationToken)
    {
        if (request.StopRecovered is { } stop)
        {
            await stop(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Makes a destination disk equal to a recovered one by block checksums (the destination's manifest kept beside it until the failback ends, so the second pass trusts it by stamp and sample).</summary>
    private async Task<SyncResult> SyncDiskAsync(string source, string destination, CancellationToken cancellationToken)
    {
        using VirtualDisk from = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk to = VirtualDisk.Open(destination);
        var manifest = new ManifestFile(destination + FailbackManifestSuffix, to);
        var options = new SyncOptions { Transfer = _options.Transfer, CheckpointPath = destination + ".failback", WorkDirectory = _options.WorkDirectory };
        return await _synchronizer.ResyncAsync(from, to, manifest, options, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies a recovered disk whole into a destination (an existing disk, or a new one in the format its extension names); returns the data bytes written.</summary>
    private async Task<long> CopyWholeAsync(string source, string destination, bool create, CancellationToken cancellationToken)
    {
        using VirtualDisk from = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        bool made = create && !File.Exists(destination);
        using VirtualDisk to = made
            ? VirtualDisk.Create(destination, new DiskCreateOptions
            {
                Format = Path.GetExtension(destination).ToLowerInvariant() switch { ".vhd" => DiskFormat.Vhd, ".vhdx" => DiskFormat.Vhdx, _ => DiskFormat.Raw },
                Type = Path.GetExtension(destination).ToLowerInvariant() is ".vhd" or ".vhdx" ? DiskType.Dynamic : DiskType.Fixed,
                VirtualSize = from.VirtualSize,
            })
            : VirtualDisk.Open(destination);
        SyncResult copied = await _synchronizer.SeedAsync(
            from, to, options: new SyncOptions { Transfer = _options.Transfer, DestinationKnownZero = made }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return copied.DataBytesSent;
    }
}
