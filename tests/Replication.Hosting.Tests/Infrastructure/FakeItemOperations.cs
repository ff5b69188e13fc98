using System.Threading.Channels;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Operations;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// Item operations that record each call with the fake clock's time, and fail or succeed as a test scripts them.
/// Waiting for a call is waiting for an event, never for time.
/// </summary>
public sealed class FakeItemOperations(TimeProvider time) : IItemOperations
{
    private readonly Channel<Call> _calls = Channel.CreateUnbounded<Call>();
    private readonly Queue<Exception> _failures = new();
    private int _cycles;
    private int _blockNext;
    private TaskCompletionSource? _resyncHold;

    public sealed record Call(string Kind, string Item, DateTimeOffset At);

    public bool ResyncRequired { get; set; }

    /// <summary>The next calls fail with these errors, in order; then calls succeed.</summary>
    public void FailNext(params Exception[] errors)
    {
        lock (_failures)
        {
            foreach (Exception error in errors)
            {
                _failures.Enqueue(error);
            }
        }
    }

    public static ReplicationException Recoverable() => new(ReplicationErrorCode.TargetUnavailable, true, "site: 503 Server Busy");

    public static ReplicationException NonRecoverable() => new(ReplicationErrorCode.AuthenticationFailed, false, "site: 403 the SAS has expired");

    /// <summary>The next call (fails the test when none comes within a minute of wall time: a bound, not a wait).</summary>
    public async Task<Call> NextCallAsync() => await _calls.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(1));

    /// <summary>True when a call was made that no test read yet.</summary>
    public bool HasUnreadCall => _calls.Reader.TryPeek(out _);

    public Task<ItemRunOutcome> ProtectAsync(HostedItem item, CancellationToken cancellationToken) => RunAsync("protect", item, ProtectionState.Protected);

    public async Task<ItemRunOutcome> ReplicateAsync(HostedItem item, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _blockNext, 0) == 1)
        {
            // A cycle that only ends when it is told to stop (a long resync, a slow site).
            _calls.Writer.TryWrite(new Call("blocked cycle", item.Name, time.GetUtcNow()));
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        return await RunAsync("cycle", item, ProtectionState.Protected);
    }

    /// <summary>The next cycle runs until its cancellation token is cancelled, and then throws.</summary>
    public void BlockNextCycle() => Volatile.Write(ref _blockNext, 1);

    /// <summary>The next resync waits, after telling of it ("held resync"), until the returned source completes.</summary>
    public TaskCompletionSource HoldNextResync()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _resyncHold, hold);
        return hold;
    }

    public async Task<ItemRunOutcome> ResyncAsync(HostedItem item, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _resyncHold, null) is { } hold)
        {
            _calls.Writer.TryWrite(new Call("held resync", item.Name, time.GetUtcNow()));
            await hold.Task.WaitAsync(cancellationToken);
        }

        ResyncRequired = false;
        return await RunAsync("resync", item, ProtectionState.Protected);
    }

    public Task<bool> IsResyncRequiredAsync(HostedItem item, CancellationToken cancellationToken) => Task.FromResult(ResyncRequired);

    public Task ResumeAsync(HostedItem item, CancellationToken cancellationToken) => Task.CompletedTask;

    private Task<ItemRunOutcome> RunAsync(string kind, HostedItem item, ProtectionState state)
    {
        DateTimeOffset now = time.GetUtcNow();
        Exception? failure = null;
        lock (_failures)
        {
            _failures.TryDequeue(out failure);
        }

        _calls.Writer.TryWrite(new Call(kind, item.Name, now));
        if (failure is not null)
        {
            return Task.FromException<ItemRunOutcome>(failure);
        }

        int cycle = Interlocked.Increment(ref _cycles);
        return Task.FromResult(new ItemRunOutcome
        {
            Action = kind == "resync" ? ReplicationAction.Resync : kind == "protect" ? ReplicationAction.InitialReplication : ReplicationAction.DeltaCycle,
            State = state,
            RecoveryPointId = cycle.ToString(System.Globalization.CultureInfo.InvariantCulture),
            RecoveryPointAt = now,
            BytesSent = 4096,
        });
    }
}
