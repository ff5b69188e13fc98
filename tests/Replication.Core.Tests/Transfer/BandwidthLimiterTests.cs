using Microsoft.Extensions.Time.Testing;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Transfer;

/// <summary>The bandwidth cap, driven by a fake clock: what it grants at each instant, and in what order.</summary>
public sealed class BandwidthLimiterTests
{
    // 64 KiB every 64 ms: waits in whole milliseconds, the resolution of timers.
    private const long Rate = 1024 * 1000;
    private const long Burst = 256 << 10;
    private const int Request = 64 << 10;

    [Fact]
    public void A_full_bucket_grants_its_burst_at_once_then_the_rate_as_the_clock_moves_in_the_order_asked()
    {
        var clock = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(Rate, Burst, clock);
        Task[] requests = [.. Enumerable.Range(0, 20).Select(_ => limiter.AcquireAsync(Request, CancellationToken.None).AsTask())];

        // 256 KiB at once; then 64 KiB per 64 ms of the clock, first come first served; never ahead of the clock.
        Assert.Equal(4, Granted(requests));
        for (int step = 1; step <= 16; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(63));
            Assert.Equal(3 + step, Granted(requests));
            clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(4 + step, Granted(requests));
            Assert.True(requests.Take(4 + step).All(r => r.IsCompletedSuccessfully) && !requests.Skip(4 + step).Any(r => r.IsCompleted), "granted out of order");
        }
    }

    [Fact]
    public void An_idle_spell_refills_no_more_than_the_burst()
    {
        var clock = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(Rate, Burst, clock);
        clock.Advance(TimeSpan.FromHours(1));
        Task[] requests = [.. Enumerable.Range(0, 6).Select(_ => limiter.AcquireAsync(Request, CancellationToken.None).AsTask())];
        Assert.Equal(4, Granted(requests));
    }

    [Fact]
    public void A_request_larger_than_the_burst_waits_for_what_it_lacks()
    {
        var clock = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(Rate, Burst, clock);
        Task big = limiter.AcquireAsync(1 << 20, CancellationToken.None).AsTask();
        clock.Advance(TimeSpan.FromMilliseconds(767));
        Assert.False(big.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(big.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_cancelled_wait_ends_at_once()
    {
        var clock = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(Rate, Burst, clock);
        await limiter.AcquireAsync((int)Burst, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        Task waiting = limiter.AcquireAsync(Request, cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    private static int Granted(Task[] requests) => requests.Count(r => r.IsCompletedSuccessfully);
}
