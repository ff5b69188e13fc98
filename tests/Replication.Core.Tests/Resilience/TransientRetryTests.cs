using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using Replication.Core.Resilience;

namespace Replication.Core.Tests.Resilience;

/// <summary>Per-request retries on the transfer's clock: a Retry-After is waited in full, a hung attempt is abandoned at its deadline.</summary>
public sealed class TransientRetryTests
{
    [Fact]
    public async Task A_retry_after_is_waited_in_full_on_the_transfer_clock()
    {
        var clock = new FakeTimeProvider();
        var retry = new TransientRetry(new RequestRetryOptions { BaseDelay = TimeSpan.Zero }, Timeout.InfiniteTimeSpan, clock);
        var attempts = new StrongBox<int>();
        Task run = retry.ExecuteAsync(
            static (count, _) => Interlocked.Increment(ref count.Value) == 1
                ? throw new ReplicaTargetException(ReplicationErrorCode.TargetUnavailable, true, "server busy", 503, "ServerBusy", TimeSpan.FromSeconds(1))
                : ValueTask.CompletedTask,
            attempts,
            "a page write",
            CancellationToken.None).AsTask();

        Assert.Equal(1, Volatile.Read(ref attempts.Value));
        clock.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.Equal(1, Volatile.Read(ref attempts.Value));
        Assert.False(run.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        await run;
        Assert.Equal(2, attempts.Value);
        Assert.Equal(1, retry.Retries);
    }

    [Fact]
    public async Task A_hung_attempt_is_abandoned_at_its_deadline_on_the_transfer_clock_and_retried()
    {
        var clock = new FakeTimeProvider();
        var retry = new TransientRetry(new RequestRetryOptions { BaseDelay = TimeSpan.Zero }, TimeSpan.FromSeconds(30), clock);
        var attempts = new System.Collections.Concurrent.ConcurrentQueue<CancellationToken>();
        Task run = retry.ExecuteAsync(
            static async (seen, token) =>
            {
                seen.Enqueue(token);
                if (seen.Count == 1)
                {
                    await Task.Delay(Timeout.Infinite, token);
                }
            },
            attempts,
            "a page write",
            CancellationToken.None).AsTask();

        CancellationToken first = Assert.Single(attempts);
        clock.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(first.IsCancellationRequested, "the attempt was abandoned before its deadline on the transfer's clock");
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(first.IsCancellationRequested, "the attempt outlived its deadline on the transfer's clock");
        await run;
        Assert.Equal(2, attempts.Count);
        Assert.Equal(1, retry.Retries);
    }
}
