using Replication.Core;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;

namespace Replication.Hosting.Operations;

/// <summary>The engine's operations against the host's site, with the machines a <see cref="IMachineProvider"/> lends.</summary>
internal sealed class EngineItemOperations : IItemOperations
{
    private readonly IReplicationSite _site;
    private readonly IMachineProvider _machines;
    private readonly ReplicationEngine _engine;

    public EngineItemOperations(IReplicationSite site, IMachineProvider machines, JobRecorder recorder, TimeProvider time, ReplicationHostOptions options)
    {
        _site = site;
        _machines = machines;
        _engine = new ReplicationEngine(new ReplicationEngineOptions
        {
            TimeProvider = time,
            StepCompleted = recorder.OnStepAsync,
            Progress = recorder,
            WorkDirectory = options.WorkDirectory,
        });
    }

    public async Task<ItemRunOutcome> ProtectAsync(HostedItem item, CancellationToken cancellationToken)
    {
        await using MachineLease lease = await _machines.AcquireAsync(_site, item, cancellationToken).ConfigureAwait(false);
        ReplicationRunResult result = await _engine.ProtectAsync(
            new ProtectionRequest { Machine = lease.Machine, Policy = item.Policy.ToEnginePolicy() }, cancellationToken).ConfigureAwait(false);
        return ItemRunOutcome.From(result);
    }

    public async Task<ItemRunOutcome> ReplicateAsync(HostedItem item, CancellationToken cancellationToken)
    {
        await using MachineLease lease = await _machines.AcquireAsync(_site, item, cancellationToken).ConfigureAwait(false);
        return ItemRunOutcome.From(await _engine.ReplicateAsync(lease.Machine, cancellationToken).ConfigureAwait(false));
    }

    public async Task<ItemRunOutcome> ResyncAsync(HostedItem item, CancellationToken cancellationToken)
    {
        await using MachineLease lease = await _machines.AcquireAsync(_site, item, cancellationToken).ConfigureAwait(false);
        return ItemRunOutcome.From(await _engine.ResyncAsync(lease.Machine, cancellationToken).ConfigureAwait(false));
    }

    public async Task<bool> IsResyncRequiredAsync(HostedItem item, CancellationToken cancellationToken)
    {
        try
        {
            ItemStatus status = await _engine.GetStatusAsync(_site, item.Name, [.. item.Disks.Select(d => d + ".logs")], cancellationToken).ConfigureAwait(false);
            return status.ResyncRequired && status.State is not (ProtectionState.Enabling or ProtectionState.InitialReplication);
        }
        catch (ReplicationException ex) when (ex.Code == ReplicationErrorCode.NotFound)
        {
            return false;
        }
    }

    public Task ResumeAsync(HostedItem item, CancellationToken cancellationToken) => _engine.ResumeAsync(_site, item.Name, cancellationToken);
}
