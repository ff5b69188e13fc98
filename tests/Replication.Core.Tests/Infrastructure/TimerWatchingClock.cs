using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that tells the test the due time of every timer started on it, so a test can move
/// the clock exactly to the end of each wait the code under test begins, and nothing else moves it.
/// </summary>
public sealed class TimerWatchingClock : FakeTimeProvider
{
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    /// <summary>The due time of each finite timer, in the order they were started.</summary>
    public ChannelReader<TimeSpan> Timers => _timers.Reader;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _timers.Writer.TryWrite(dueTime);
        }

        return timer;
    }

    /// <summary>
    /// Until <paramref name="work"/> ends, moves the clock to the end of every wait begun on it for which
    /// <paramref name="advance"/> (all when null) says so.
    /// </summary>
    public async Task<T> DriveAsync<T>(Task<T> work, Func<TimeSpan, bool>? advance = null)
    {
        Task<TimeSpan> next = Timers.ReadAsync().AsTask();
        while (await Task.WhenAny(work, next) == next)
        {
            TimeSpan due = await next;
            if (advance?.Invoke(due) != false)
            {
                Advance(due);
            }

            next = Timers.ReadAsync().AsTask();
        }

        return await work;
    }
}
