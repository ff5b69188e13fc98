using System.Collections.Concurrent;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// Recovery operations that log each start and end in order, fail the items a test names, and can hold every item of a
/// group until all of them have started (which only parallel runs get past: serial ones would never all start).
/// </summary>
public sealed class FakeRecoveryOperations : IRecoveryOperations
{
    private readonly ConcurrentDictionary<string, Rendezvous> _rendezvous = new(StringComparer.Ordinal);

    /// <summary>Every start and end (<c>start:ITEM:OPERATION</c>, <c>end:ITEM</c>) and every action the test logs, in order.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>Items whose operation fails, with the error.</summary>
    public ConcurrentDictionary<string, Exception> Failures { get; } = new(StringComparer.Ordinal);

    /// <summary>The items of <paramref name="items"/> each wait until all of them have started.</summary>
    public void MeetTogether(IReadOnlyCollection<string> items)
    {
        var rendezvous = new Rendezvous(items.Count);
        foreach (string item in items)
        {
            _rendezvous[item] = rendezvous;
        }
    }

    public Task<ProtectionState> FailoverAsync(HostedItem item, FailoverKind kind, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(item, kind + "Failover", kind == FailoverKind.Test ? ProtectionState.Protected : ProtectionState.FailedOver);

    public Task<ProtectionState> CleanupTestFailoverAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(item, "TestFailoverCleanup", ProtectionState.Protected);

    public Task<ProtectionState> CommitAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(item, "Commit", ProtectionState.Committed);

    public Task<ProtectionState> FailbackAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(item, "Failback", ProtectionState.FailedBack);

    public Task<ProtectionState> ReverseReplicationAsync(HostedItem item, RecoveryPlanRunOptions options, CancellationToken cancellationToken) =>
        RunAsync(item, "ReverseReplication", ProtectionState.Protected);

    private async Task<ProtectionState> RunAsync(HostedItem item, string operation, ProtectionState after)
    {
        Log.Enqueue($"start:{item.Name}:{operation}");
        if (_rendezvous.TryGetValue(item.Name, out Rendezvous? rendezvous))
        {
            // Bounded by a minute of wall time only so that a serial runner fails instead of hanging.
            await rendezvous.ArriveAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }

        Log.Enqueue($"end:{item.Name}");
        return Failures.TryGetValue(item.Name, out Exception? failure) ? throw failure : after;
    }

    private sealed class Rendezvous(int count)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        public Task ArriveAsync()
        {
            if (Interlocked.Increment(ref _arrived) == count)
            {
                _all.TrySetResult();
            }

            return _all.Task;
        }
    }

    public static ReplicationException NonRecoverable(string item) =>
        new(ReplicationErrorCode.InvalidState, false, $"'{item}': the replica's record says FailedOver; a failover needs Protected");
}
