using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;

namespace Replication.Hosting.Operations;

/// <summary>
/// Hands the host an item's machine (its tracked disks) for the length of one run. The default opens the disks for
/// the run and closes them after (<see cref="TrackedDiskMachineProvider"/>): right when nothing else writes through
/// them. An embedding product that writes through tracked disks it keeps open registers its own, returning those.
/// </summary>
public interface IMachineProvider
{
    /// <summary>The machine; disposing the lease gives it back (closing what the provider opened for it).</summary>
    /// <exception cref="Core.ReplicationException">A disk cannot be opened (missing: non-recoverable).</exception>
    ValueTask<MachineLease> AcquireAsync(IReplicationSite site, HostedItem item, CancellationToken cancellationToken);
}

/// <summary>An item's machine lent for one run.</summary>
/// <param name="machine">The machine.</param>
/// <param name="release">Called once when the run ends.</param>
public sealed class MachineLease(ProtectedMachine machine, Func<ValueTask>? release = null) : IAsyncDisposable
{
    private Func<ValueTask>? _release = release;

    /// <summary>The machine.</summary>
    public ProtectedMachine Machine { get; } = machine;

    /// <summary>Gives the machine back; harmless to repeat.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _release, null)?.Invoke() ?? ValueTask.CompletedTask;
}
