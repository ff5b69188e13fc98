using Replication.Hosting.Scheduling;

namespace Replication.Hosting.Tests.Scheduling;

public sealed class RetryScheduleTests
{
    private static readonly DateTimeOffset First = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Attempts_fall_at_1_3_7_15_25_minutes_then_every_30()
    {
        int[] minutes = [.. Enumerable.Range(1, 9).Select(n => (int)(RetrySchedule.Default.AttemptAfter(First, n) - First).TotalMinutes)];
        Assert.Equal([1, 3, 7, 15, 25, 55, 85, 115, 145], minutes);
    }

    [Fact]
    public void After_downtime_the_next_slot_still_to_come_is_taken_not_every_missed_one()
    {
        // Three failures, the host down from +5 to +40 minutes: the +7, +15 and +25 slots passed; the next is +55.
        Assert.Equal(First.AddMinutes(55), RetrySchedule.Default.NextAttempt(First, 3, First.AddMinutes(40)));
        Assert.Equal(First.AddMinutes(7), RetrySchedule.Default.NextAttempt(First, 3, First.AddMinutes(6)));
        Assert.Equal(First.AddMinutes(7), RetrySchedule.Default.NextAttempt(First, 3, First.AddMinutes(7)));
    }

    [Fact]
    public void No_failure_has_no_retry()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RetrySchedule.Default.AttemptAfter(First, 0));
    }
}
