namespace Replication.Core.Disks.Vhd;

/// <summary>VHD time stamps: unsigned seconds since 2000-01-01 00:00:00 UTC.</summary>
internal static class VhdTime
{
    /// <summary>The VHD epoch.</summary>
    public static DateTimeOffset Epoch { get; } = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Seconds since the epoch, clamped to the field's range.</summary>
    public static uint ToVhd(DateTimeOffset time)
    {
        double seconds = Math.Floor((time - Epoch).TotalSeconds);
        return (uint)Math.Clamp(seconds, 0, uint.MaxValue);
    }
}
