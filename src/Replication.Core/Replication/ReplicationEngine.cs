using Replication.Core.ChangeTracking;
using Replication.Core.Replication.Sites;
using Replication.Core.Targets;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

/// <summary>
/// Continuous replication of protected machines to a recovery site: enable protection, initial replication of a running
/// machine, delta cycles with recovery points consistent across the machine's disks, retention, and resynchronisation.
/// </summary>
/// <remarks>
/// <para>
/// The site's record of each item says what its replicas hold: for each disk, the last log applied (the next log must
/// name it as its predecessor), and the retained recovery points. Every step is written to it only once its effect is
/// durable at the site, and every step can be repeated: a run killed at any point is completed by the next one, and a
/// crash never leaves the item without a complete recovery point (or, before the first one exists, without its initial
/// replication resuming from its checkpoint).
/// </para>
/// <para>
/// A delta cycle rotates the disks together (<see cref="TrackedDisk.RotateTogetherAsync"/>), so the cut is consistent
/// across them; coalesces each disk's sealed logs and sends each changed byte once, through the transfer pipeline,
/// straight into the replica; makes one recovery point per disk (the previous one was protected before the first write:
/// an undo log locally, a snapshot on Azure); records the cycle; prunes points past the policy's retention; and only
/// then releases the shipped logs at the primary.
/// </para>
/// <para>
/// Errors are <see cref="ReplicationException"/>s with a code and whether a retry can help
/// (<see cref="ReplicationErrors.Classify"/>); a non-recoverable one leaves the item <see cref="ProtectionState.Critical"/>
/// with the reason recorded, a broken chain or an offline change leaves it <see cref="ProtectionState.ResyncRequired"/>.
/// </para>
/// </remarks>
public sealed partial class ReplicationEngine
{
    private const string RecordFormat = "repl.item";
    private readonly ReplicationEngineOptions _options;
    private readonly TimeProvider _time;
    private readonly IDiskSynchronizer _synchronizer;
    private readonly ILogApplier _applier;

    /// <summary>Creates the engine.</summary>
    /// <param name="options">Transfer defaults, progress; <see cref="ReplicationEngineOptions.Default"/> when null.</param>
    /// <param name="timeProvider">The clock of recovery points, retention, RPO and transfers; the system clock when null.</param>
    /// <param name="synchronizer">Copies and resyncs disks (initial replication, resync, failover, failback); a <see cref="DiskSynchronizer"/> on the same clock when null.</param>
    /// <param name="applier">Applies shipped logs to replicas; a <see cref="LogApplier"/> on the same clock when null.</param>
    public ReplicationEngine(
        ReplicationEngineOptions? options = null, TimeProvider? timeProvider = null, IDiskSynchronizer? synchronizer = null, ILogApplier? applier = null)
    {
        _options = options ?? ReplicationEngineOptions.Default;
        _time = timeProvider ?? TimeProvider.System;
        _synchronizer = synchronizer ?? new DiskSynchronizer(_time);
        _applier = applier ?? new LogApplier(_time);
    }

    /// <summary>
    /// Enables protection of a machine and runs its initial replication in the foreground: checks the prerequisites
    /// (disks tracked and of supported size, site reachable and writable, replicas created, fences acquired), records the
    /// relationship at the site and beside each disk, copies every disk while the machine keeps writing, then applies
    /// the logs written meanwhile and makes the first recovery point.
    /// </summary>
    /// <returns>What the initial replication did, with the first recovery point.</returns>
    /// <exception cref="ReplicationException">
    /// A prerequisite failed (non-recoverable, with the reason), the item exists at the site with another relationship,
    /// a disk is protected to another item, or the copy failed (see the code and whether a retry can help; a retry with
    /// <see cref="ReplicateAsync"/> resumes it).
    /// </exception>
    public async Task<ReplicationRunResult> ProtectAsync(ProtectionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ProtectedMachine machine = request.Machine;
        IReplicationSite site = machine.Site;
        await site.EnsureWritableAsync(request.CreateSite, cancellationToken).ConfigureAwait(false);
        ItemRecordHandle? existing = await ReadRecordAsync(site, machine.Name, cancellationToken).ConfigureAwait(false);
        Guid relationship = existing?.Record.RelationshipId ?? Guid.NewGuid();
        if (existing is not null)
        {
            if (existing.Record.State is not (ProtectionState.Enabling or ProtectionState.InitialReplication)
                || existing.Record.Disks.Count != machine.Disks.Count
                || !PrimaryRecordsMatch(machine, existing.Record))
            {
                throw new ReplicationException(
                    ReplicationErrorCode.Conflict,
                    false,
                    $"{site.Location}: '{machine.Name}' is already protected there ({ProtectionStateMachine.Describe(existing.Record.State)}); choose another name, or unprotect it first.");
            }
        }

        for (int i = 0; i < machine.Disks.Count; i++)
        {
            CheckPrimaryRecord(machine, i, relationship);
            if (machine.Disks[i].VirtualSize % 512 != 0)
            {
                throw new ReplicationException(ReplicationErrorCode.NotSupported, false, $"{machine.Disks[i].FilePath}: a protected disk's size must be a multiple of 512 bytes.");
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        ItemRecordHandle handle = existing ?? new ItemRecordHandle(site, machine.Name, new SiteItemRecord
        {
            Name = machine.Name,
            RelationshipId = relationship,
            State = ProtectionState.Enabling,
            CreatedAt = now,
            Machine = MachineRecord.From(request.Description ?? new MachineDescription { Name = machine.Name }),
            NetworkMapping = new Dictionary<string, string>(request.NetworkMapping ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            Policy = SiteItemRecord.FromPolicy(request.Policy ?? ReplicationPolicy.Default),
            Disks = [.. machine.Disks.Select((d, i) => new DiskRecord
            {
                Index = i,
                SourcePath = d.FilePath ?? $"disk {i}",
                VirtualSize = d.VirtualSize,
                ReplicaSize = site.ReplicaSizeFor(d.VirtualSize),
            })],
        }, version: null);

        // Prerequisites at the site: each replica created at its size (or already there at that size), and its fence free.
        for (int i = 0; i < machine.Disks.Count; i++)
        {
            IReplicaTarget target = site.GetDiskTarget(machine.Name, i);
            bool created = await target.CreateReplicaAsync(handle.Record.Disks[i].ReplicaSize, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                handle.Record.Disks[i].ReplicaCreatedEmpty = created;
            }

            await using IReplicaWriter writer = await AcquireWriterAsync(machine, target, cancellationToken).ConfigureAwait(false);
        }

        if (handle.Record.State == ProtectionState.Enabling)
        {
            handle.Record.State = ProtectionState.InitialReplication;
            await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
        }

        for (int i = 0; i < machine.Disks.Count; i++)
        {
            WritePrimaryRecord(machine, i, relationship);
        }

        return await RunAsync(machine, handle, ReplicationOperation.InitialReplication, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs what the item needs now: its initial replication (resumed), a resync (when a tracker or the record asks for
    /// one), or a delta cycle.
    /// </summary>
    /// <returns>What the run did and cost, and the recovery point it made.</returns>
    /// <exception cref="ReplicationException">The item is not at the site, the disks do not match its record, its state allows no replication, or the run failed.</exception>
    public async Task<ReplicationRunResult> ReplicateAsync(ProtectedMachine machine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ItemRecordHandle handle = await OpenAsync(machine, cancellationToken).ConfigureAwait(false);
        ReplicationOperation operation = handle.Record.State switch
        {
            ProtectionState.Enabling or ProtectionState.InitialReplication => ReplicationOperation.InitialReplication,
            ProtectionState.ResyncRequired or ProtectionState.Resynchronising => ReplicationOperation.Resync,
            _ when machine.Disks.Any(d => d.Resync.IsRequired) => ReplicationOperation.Resync,
            _ => ReplicationOperation.DeltaCycle,
        };
        return await RunAsync(machine, handle, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Resynchronises the item now, on request: every disk is compared with its replica by block hashes and only the
    /// differences are sent, while the machine keeps writing; then the logs written meanwhile are applied.
    /// </summary>
    /// <exception cref="ReplicationException">As for <see cref="ReplicateAsync"/>.</exception>
    public async Task<ReplicationRunResult> ResyncAsync(ProtectedMachine machine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ItemRecordHandle handle = await OpenAsync(machine, cancellationToken).ConfigureAwait(false);
        return await RunAsync(machine, handle, ReplicationOperation.Resync, cancellationToken, forced: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Resumes an item left <see cref="ProtectionState.Critical"/> once an operator has repaired the cause: its error is
    /// cleared and it becomes <see cref="ProtectionState.ResyncRequired"/>, so the next run compares every disk with its
    /// replica before cycles go on (nothing the failure may have left half done is trusted).
    /// </summary>
    /// <exception cref="ReplicationException">No such item, or it is not critical.</exception>
    public async Task ResumeAsync(IReplicationSite site, string name, CancellationToken cancellationToken = default)
    {
        ItemRecordHandle handle = await RequireAsync(site, name, cancellationToken).ConfigureAwait(false);
        ProtectionStateMachine.EnsureAllowed(name, handle.Record.State, handle.Record.TestFailover is not null, ReplicationOperation.Resume);
        handle.Record.State = ProtectionState.ResyncRequired;
        handle.Record.LastError = null;
        await handle.SaveAsync(_time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the item's protection: its record and replicas at the site, its records beside the disks, and the logs they kept.</summary>
    /// <param name="site">The site.</param>
    /// <param name="name">The item.</param>
    /// <param name="disks">The item's tracked disks, when at hand (their relationship records and pending logs are removed too).</param>
    /// <param name="cancellationToken">Cancels the removal (repeat it to finish).</param>
    /// <exception cref="ReplicationException">The item's state does not allow it (a failover is running, for example).</exception>
    public async Task UnprotectAsync(IReplicationSite site, string name, IReadOnlyList<TrackedDisk>? disks = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(site);
        ItemNames.Check(name);
        if (await ReadRecordAsync(site, name, cancellationToken).ConfigureAwait(false) is { } handle)
        {
            ProtectionStateMachine.EnsureAllowed(name, handle.Record.State, handle.Record.TestFailover is not null, ReplicationOperation.Unprotect);
        }

        await site.DeleteItemAsync(name, cancellationToken).ConfigureAwait(false);
        foreach (TrackedDisk disk in disks ?? [])
        {
            string record = PrimaryRecordPath(disk);
            if (File.Exists(record))
            {
                File.Delete(record);
            }

            if (disk.PendingLogs is [.., var last])
            {
                await disk.ReleaseAsync(last.SequenceNumber, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The item's record for a run from the primary: it must exist, belong to these disks and match their sizes.</summary>
    private async Task<ItemRecordHandle> OpenAsync(ProtectedMachine machine, CancellationToken cancellationToken)
    {
        ItemRecordHandle handle = await ReadRecordAsync(machine.Site, machine.Name, cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{machine.Site.Location}: no protected item '{machine.Name}' (protect it first).");
        SiteItemRecord record = handle.Record;
        if (record.Disks.Count != machine.Disks.Count)
        {
            throw new ReplicationException(
                ReplicationErrorCode.InvalidReplicaState, false, $"'{machine.Name}' has {record.Disks.Count} disks at {machine.Site.Location}, but {machine.Disks.Count} were given.");
        }

        for (int i = 0; i < record.Disks.Count; i++)
        {
            if (record.Disks[i].VirtualSize != machine.Disks[i].VirtualSize)
            {
                throw new ReplicationException(
                    ReplicationErrorCode.InvalidReplicaState,
                    false,
                    $"'{machine.Name}' disk {i} is {record.Disks[i].VirtualSize} bytes at the site, but {machine.Disks[i].FilePath} is {machine.Disks[i].VirtualSize}.");
            }

            CheckPrimaryRecord(machine, i, record.RelationshipId);
        }

        return handle;
    }

    /// <summary>
    /// Runs one step and records its outcome: on success the item's error is cleared; a failure is recorded with its
    /// code, and one that no retry can fix leaves the item critical (a broken chain or an offline change: resync required).
    /// </summary>
    private async Task<ReplicationRunResult> RunAsync(
        ProtectedMachine machine, ItemRecordHandle handle, ReplicationOperation operation, CancellationToken cancellationToken, bool forced = false)
    {
        ReplicationRunResult result = await RunOnceAsync(machine, handle, operation, cancellationToken, forced).ConfigureAwait(false);

        // A run that resumed a copy begun before a crash leaves the trackers asking for the regions that crash may have
        // left unlogged: a resync of just those, now, rather than an item left needing one. Twice at most.
        for (int extra = 0; extra < 2 && handle.Record.State == ProtectionState.ResyncRequired; extra++)
        {
            ReplicationRunResult resync = await RunOnceAsync(machine, handle, ReplicationOperation.Resync, cancellationToken, forced: false).ConfigureAwait(false);
            result.Add(resync);
            result.RecoveryPoint = resync.RecoveryPoint;
            result.State = resync.State;
        }

        return result;
    }

    private async Task<ReplicationRunResult> RunOnceAsync(
        ProtectedMachine machine, ItemRecordHandle handle, ReplicationOperation operation, CancellationToken cancellationToken, bool forced)
    {
        SiteItemRecord record = handle.Record;
        ProtectionStateMachine.EnsureAllowed(machine.Name, record.State, record.TestFailover is not null, operation);
        try
        {
            ReplicationRunResult result = operation switch
            {
                ReplicationOperation.InitialReplication => await CopyAndCatchUpAsync(machine, handle, initial: true, forced: false, cancellationToken).ConfigureAwait(false),
                ReplicationOperation.Resync => await CopyAndCatchUpAsync(machine, handle, initial: false, forced, cancellationToken).ConfigureAwait(false),
                _ => await CycleAsync(machine, handle, cancellationToken).ConfigureAwait(false),
            };
            if (record.LastError is not null)
            {
                record.LastError = null;
                await handle.SaveAsync(_time, CancellationToken.None).ConfigureAwait(false);
            }

            result.State = record.State;
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && ex is not InvalidProtectionStateException)
        {
            ReplicationException classified = ReplicationErrors.Classify(ex, $"replicating '{machine.Name}'");
            await RecordFailureAsync(handle, classified).ConfigureAwait(false);
            if (ReferenceEquals(classified, ex))
            {
                throw;
            }

            throw classified;
        }
    }

    /// <summary>Takes a disk's writer fence; from a writer still holding it only when the machine says the operator breaks fences.</summary>
    private static async Task<IReplicaWriter> AcquireWriterAsync(ProtectedMachine machine, IReplicaTarget target, CancellationToken cancellationToken) =>
        await target.AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = machine.BreakFences }, cancellationToken).ConfigureAwait(false);

    private ValueTask StepAsync(string step) => _options.StepCompleted?.Invoke(step) ?? ValueTask.CompletedTask;

    private ValueTask StepAsync(string step, int disk) =>
        _options.StepCompleted?.Invoke(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{step} disk {disk}")) ?? ValueTask.CompletedTask;

    private async Task RecordFailureAsync(ItemRecordHandle handle, ReplicationException error)
    {
        SiteItemRecord record = handle.Record;
        record.LastError = new ErrorRecord { Code = error.Code, Recoverable = error.IsRecoverable, Message = error.Message, At = _time.GetUtcNow() };
        if (error.Code is ReplicationErrorCode.ChainBroken && record.State is ProtectionState.Protected)
        {
            record.State = ProtectionState.ResyncRequired;
        }
        else if (!error.IsRecoverable && error.Code is not (ReplicationErrorCode.Conflict or ReplicationErrorCode.FenceLost)
                 && record.State is ProtectionState.Protected or ProtectionState.ResyncRequired or ProtectionState.Resynchronising or ProtectionState.InitialReplication)
        {
            record.State = ProtectionState.Critical;
        }

        try
        {
            await handle.SaveAsync(_time, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ReplicationException)
        {
            // The site itself failed (or another writer moved the record on): the failure being thrown says enough.
        }
    }

    /// <summary>The item's record; <see cref="ReplicationErrorCode.NotFound"/> when the site has no such item.</summary>
    private static async Task<ItemRecordHandle> RequireAsync(IReplicationSite site, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(site);
        ItemNames.Check(name);
        return await ReadRecordAsync(site, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{site.Location}: no protected item '{name}'.");
    }

    private static async Task<ItemRecordHandle?> ReadRecordAsync(IReplicationSite site, string name, CancellationToken cancellationToken)
    {
        SiteRecord? stored = await site.ReadRecordAsync(name, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return null;
        }

        SiteItemRecord record = ItemRecordCodec.Decode(stored.Content.Span, ReplicationJsonContext.Default.SiteItemRecord, RecordFormat, stored.Where);
        if (record.Name != name)
        {
            throw new InvalidRecordException(stored.Where, 0, "replication record.body.name", $"names '{record.Name}', not '{name}'");
        }

        return new ItemRecordHandle(site, name, record, stored.Version);
    }

    private static string PrimaryRecordPath(TrackedDisk disk) => Path.Combine(disk.LogDirectory, PrimaryDiskRecord.FileName);

    private static bool PrimaryRecordsMatch(ProtectedMachine machine, SiteItemRecord record) =>
        machine.Disks.Select((d, i) => ReadPrimaryRecord(d) is not { } p || (p.RelationshipId == record.RelationshipId && p.DiskIndex == i)).All(ok => ok);

    /// <summary>Refuses a disk already protected to another item (or as another disk of this one).</summary>
    private static void CheckPrimaryRecord(ProtectedMachine machine, int index, Guid relationship)
    {
        TrackedDisk disk = machine.Disks[index];
        if (ReadPrimaryRecord(disk) is { } found && (found.RelationshipId != relationship || found.DiskIndex != index))
        {
            throw new ReplicationException(
                ReplicationErrorCode.Conflict,
                false,
                $"{disk.FilePath}: the disk is protected as disk {found.DiskIndex} of '{found.Item}' at {found.Site} ({PrimaryRecordPath(disk)}); unprotect that first.");
        }
    }

    private static PrimaryDiskRecord? ReadPrimaryRecord(TrackedDisk disk)
    {
        string path = PrimaryRecordPath(disk);
        return File.Exists(path)
            ? ItemRecordCodec.Decode(File.ReadAllBytes(path), ReplicationJsonContext.Default.PrimaryDiskRecord, "repl.disk", path)
            : null;
    }

    private static void WritePrimaryRecord(ProtectedMachine machine, int index, Guid relationship)
    {
        var record = new PrimaryDiskRecord { Item = machine.Name, RelationshipId = relationship, Site = machine.Site.Location, DiskIndex = index };
        IO.DurableFile.WriteAllBytes(PrimaryRecordPath(machine.Disks[index]), ItemRecordCodec.Encode(record, ReplicationJsonContext.Default.PrimaryDiskRecord, "repl.disk"));
    }

    /// <summary>An item's record as read from its site, and the version a conditional write must name.</summary>
    private sealed class ItemRecordHandle(IReplicationSite site, string name, SiteItemRecord record, string? version)
    {
        private readonly SemaphoreSlim _gate = new(1, 1);

        public SiteItemRecord Record { get; } = record;

        /// <summary>Writes the record, conditional on the version read; the generation grows by one. One write at a time.</summary>
        public async Task SaveAsync(TimeProvider time, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                byte[] bytes;
                lock (Record)
                {
                    Record.Generation++;
                    Record.UpdatedAt = time.GetUtcNow();
                    bytes = ItemRecordCodec.Encode(Record, ReplicationJsonContext.Default.SiteItemRecord, RecordFormat);
                }

                version = await site.WriteRecordAsync(name, bytes, version, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
