namespace Replication.Hosting.Scheduling;

/// <summary>
/// When to try again after a recoverable failure, as Azure Site Recovery documents it: the interval before each new
/// attempt grows 1, 2, 4, 8 and 10 minutes, then stays at 30 minutes; attempts fall at +1, +3, +7, +15 and +25 minutes
/// from the first failure, then every 30 minutes. A success resets it. The schedule is anchored on the first failure, so
/// a slow attempt, or a restart of the host, does not shift the attempts after it.
/// </summary>
public sealed class RetrySchedule
{
    private static readonly TimeSpan[] Growing = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(8), TimeSpan.FromMinutes(10)];

    /// <summary>The documented schedule.</summary>
    public static RetrySchedule Default { get; } = new();

    /// <summary>The interval after the growing ones.</summary>
    public TimeSpan Steady { get; } = TimeSpan.FromMinutes(30);

    /// <summary>The time of the attempt that follows <paramref name="failures"/> failed attempts, counted from the first failure.</summary>
    /// <param name="firstFailure">When the first attempt of this run of failures failed.</param>
    /// <param name="failures">Failed attempts so far (1 after the first failure).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="failures"/> is less than 1.</exception>
    public DateTimeOffset AttemptAfter(DateTimeOffset firstFailure, int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        TimeSpan offset = TimeSpan.Zero;
        for (int i = 0; i < Math.Min(failures, Growing.Length); i++)
        {
            offset += Growing[i];
        }

        return firstFailure + offset + (Steady * Math.Max(0, failures - Growing.Length));
    }

    /// <summary>
    /// The next attempt after <paramref name="failures"/> failures, no earlier than <paramref name="now"/>: slots that
    /// passed while the host was down are not made up one after another; the next slot of the schedule still to come is
    /// taken (an attempt missed entirely runs at once, as a misfired trigger does).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="failures"/> is less than 1.</exception>
    public DateTimeOffset NextAttempt(DateTimeOffset firstFailure, int failures, DateTimeOffset now)
    {
        DateTimeOffset next = AttemptAfter(firstFailure, failures);
        for (int slot = failures + 1; next < now && slot < failures + 100_000; slot++)
        {
            next = AttemptAfter(firstFailure, slot);
        }

        return next;
    }
}
