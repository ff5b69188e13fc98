using Replication.Core;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Transfer;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Operations;

/// <summary>
/// The engine's operations against the host's site, with the machines a <see cref="IMachineProvider"/> lends: the
/// scheduled ones and a recovery plan's, through one engine (its steps recorded on the job running them).
/// </summary>
internal sealed class EngineItemOperations : IItemOperations, IRecoveryOperations
{
    private readonly IReplicationSite _site;
    private readonly IMachineProvider _machines;
    private readonly ReplicationEngine _engine;

    public EngineItemOperations(
        IReplicationSite site, IMachineProvider machines, JobRecorder recorder, TimeProvider time, ReplicationHostOptions options,
        IDiskSynchronizer? synchronizer = null, ILogApplier? applier = null)
    {
        _site = site;
        _machines = machines;
        _engine = new ReplicationEngine(
            new ReplicationEngineOptions
            {
                StepCompleted = recorder.OnStepAsync,
                Progress = recorder,
                WorkDirectory = options.WorkDirectory,
            },
            time,
            synchronizer,
            applier);
    }

    public async Task<ItemRunOutcome> ProtectAsync(HostedItem item, CancellationToken cancellationToken) =>
        ItemRunOutcome.From(await RunOnMachineAsync(
            item, machine => _engine.ProtectAsync(new ProtectionRequest { Machine = machine, Policy = item.Policy.ToEnginePolicy() }, cancellationToken), cancellationToken).ConfigureAwait(false));

    public async Task<ItemRunOutcome> ReplicateAsync(HostedItem item, CancellationToken cancellationToken) =>
        ItemRunOutcome.From(await RunOnMachineAsync(item, machine => _engine.ReplicateAsync(machine, cancellationToken), cancellationToken).ConfigureAwait(false));

    public async Task<ItemRunOutcome> ResyncAsync(HostedItem item, CancellationToken cancellationToken) =>
        ItemRunOutcome.From(await RunOnMachineAsync(item, machine => _engine.ResyncAsync(machine, cancellationToken), cancellationToken).ConfigureAwait(false));

    public async Task<bool> IsResyncRequiredAsync(HostedItem item, CancellationToken cancellationToken)
    {
        try
        {
            ItemStatus status = await _engine.GetStatusAsync(_site, item.Name, [.. item.Disks.Select(TrackedDiskMachineProvider.LogDirectory)], cancellationToken).ConfigureAwait(false);
            return status.ResyncRequired && status.State is not (ProtectionState.Enabling or ProtectionState.InitialReplication);
        }
        catch (ReplicationException ex) when (ex.Code == ReplicationErrorCode.NotFound)
        {
            return false;
        }
    }

    public Task ResumeAsync(HostedItem item, CancellationToken cancellationToken) => _engine.ResumeAsync(_site, item.Name, cancellationToken);

    public async Task<ProtectionState> FailoverAsync(HostedItem item, FailoverKind kind, RecoveryPlanRunOptions options, CancellationToken cancellationToken)
    {
        // A planned failover runs a final cycle through the primary's tracked disks; the others need only the site.
        MachineLease? lease = kind == FailoverKind.Planned ? await _machines.AcquireAsync(_site, item, cancellationToken).ConfigureAwait(false) : null;
        await using (lease)
        {
            FailoverResult result = await _engine.FailoverAsync(
                new FailoverRequest
                {
                    Site = _site,
                    Name = item.Name,
                    Kind = kind,
                    PointId = kind == FailoverKind.Planned ? null : options.PointId,
                    Machine = lease?.Machine,
                    ShutdownSource = options.ShutdownSource is { } shutdown ? ct => shutdown(item.Name, ct) : null,
                    Output = options.OutputFor(item.Name),
                },
                cancellationToken).ConfigureAwait(false);
            return result.State;
        }
    }

    public async Task<ProtectionState> CleanupTestFailoverAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken)
    {
        await _engine.CleanupTestFailoverAsync(_site, item.Name, options.OutputFor(item.Name), cancellationToken).ConfigureAwait(false);
        return await StateAsync(item, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProtectionState> CommitAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken)
    {
        await _engine.CommitAsync(_site, item.Name, cancellationToken).ConfigureAwait(false);
        return await StateAsync(item, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProtectionState> FailbackAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken)
    {
        // To the primary's disks recorded at protection: nothing may hold them open meanwhile (the default provider opens
        // them per run only; a product keeping them open stops its machine first, as a failback requires).
        FailbackResult result = await _engine.FailbackAsync(
            new FailbackRequest
            {
                Site = _site,
                Name = item.Name,
                Mode = options.FailbackMode,
                StopRecovered = options.StopRecovered is { } stop ? ct => stop(item.Name, ct) : null,
            },
            cancellationToken).ConfigureAwait(false);
        return result.State;
    }

    public async Task<ProtectionState> ReverseReplicationAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        (await RunOnMachineAsync(item, machine => _engine.ReverseReplicationAsync(machine, cancellationToken), cancellationToken).ConfigureAwait(false)).State;

    public async Task<ProtectionState?> CompletedStateAsync(HostedItem item, RecoveryPlanOperation operation, CancellationToken cancellationToken)
    {
        ItemStatus status = await _engine.GetStatusAsync(_site, item.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
        bool complete = operation switch
        {
            // A second test failover (or a repeated planned/unplanned one) would make the recovered copy again.
            RecoveryPlanOperation.TestFailover => status.TestFailoverActive,
            RecoveryPlanOperation.TestFailoverCleanup => !status.TestFailoverActive,
            RecoveryPlanOperation.PlannedFailover or RecoveryPlanOperation.UnplannedFailover => status.State is ProtectionState.FailedOver or ProtectionState.Committed,
            RecoveryPlanOperation.Failback => status.State == ProtectionState.FailedBack,

            // Repeating a commit finishes dropping the points a stop left; reverse replication resumes its resync.
            _ => false,
        };
        return complete ? status.State : null;
    }

    /// <summary>Runs an engine operation on the item's machine, lent by the provider for the operation's length.</summary>
    private async Task<ReplicationRunResult> RunOnMachineAsync(HostedItem item, Func<ProtectedMachine, Task<ReplicationRunResult>> run, CancellationToken cancellationToken)
    {
        await using MachineLease lease = await _machines.AcquireAsync(_site, item, cancellationToken).ConfigureAwait(false);
        return await run(lease.Machine).ConfigureAwait(false);
    }

    private async Task<ProtectionState> StateAsync(HostedItem item, CancellationToken cancellationToken) =>
        (await _engine.GetStatusAsync(_site, item.Name, cancellationToken: cancellationToken).ConfigureAwait(false)).State;
}
