namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// HRL time stamps: whole seconds since 2000-01-01 00:00:00 UTC in an unsigned 32-bit field (so from 2000 to early
/// 2136). Conversions take and return <see cref="DateTimeOffset"/>; the clock is always the caller's.
/// </summary>
internal static class HrlTimestamp
{
    /// <summary>The instant that encodes as zero.</summary>
    public static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The instant a field value stands for.</summary>
    public static DateTimeOffset ToDateTimeOffset(uint seconds) => Epoch.AddSeconds(seconds);

    /// <summary>Encodes an instant, truncating to the whole second.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The instant is before 2000 or after the last encodable second.</exception>
    public static uint FromDateTimeOffset(DateTimeOffset time)
    {
        long ticks = time.UtcTicks - Epoch.UtcTicks;
        if (ticks < 0 || ticks / TimeSpan.TicksPerSecond > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(time),
                time,
                "An HRL time stamp holds whole seconds from 2000-01-01 UTC to 2136-02-07 06:28:15 UTC.");
        }

        return (uint)(ticks / TimeSpan.TicksPerSecond);
    }
}
