namespace Replication.Hosting.Items;

/// <summary>
/// When a resynchronisation that the tracker asked for may run: outside business hours by default (business days Monday
/// to Friday, 08:00 to 18:00, in the host's time zone). A resync an operator asks for runs at once, whatever the window.
/// </summary>
public sealed class ResyncWindow
{
    /// <summary>The business days, on which <see cref="BusinessHoursStart"/> to <see cref="BusinessHoursEnd"/> is closed to resyncs.</summary>
    public IList<DayOfWeek> BusinessDays { get; set; } =
        [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday];

    /// <summary>First business hour (0 to 23); resyncs wait from this hour on business days.</summary>
    public int BusinessHoursStart { get; set; } = 8;

    /// <summary>The hour business ends (1 to 24, after <see cref="BusinessHoursStart"/>); resyncs may run from this hour.</summary>
    public int BusinessHoursEnd { get; set; } = 18;

    /// <summary>The time zone of the hours, as an IANA or Windows id; null for the host's local time zone.</summary>
    public string? TimeZone { get; set; }

    /// <summary>Never wait: a required resync runs at once.</summary>
    public bool Always { get; set; }

    /// <summary>The time zone the hours are in.</summary>
    /// <exception cref="TimeZoneNotFoundException">The id names no time zone.</exception>
    public TimeZoneInfo ResolveTimeZone() => TimeZone is null ? TimeZoneInfo.Local : TimeZoneInfo.FindSystemTimeZoneById(TimeZone);

    /// <summary>True when a resync may start at <paramref name="time"/>.</summary>
    public bool IsOpen(DateTimeOffset time)
    {
        if (Always)
        {
            return true;
        }

        DateTimeOffset local = TimeZoneInfo.ConvertTime(time, ResolveTimeZone());
        return !BusinessDays.Contains(local.DayOfWeek) || local.Hour < BusinessHoursStart || local.Hour >= BusinessHoursEnd;
    }

    internal IEnumerable<string> Validate(string prefix)
    {
        if (BusinessHoursStart is < 0 or > 23)
        {
            yield return $"{prefix}.BusinessHoursStart must be 0 to 23 (is {BusinessHoursStart}).";
        }

        if (BusinessHoursEnd is < 1 or > 24 || BusinessHoursEnd <= BusinessHoursStart)
        {
            yield return $"{prefix}.BusinessHoursEnd must be after BusinessHoursStart and at most 24 (is {BusinessHoursEnd}).";
        }

        if (BusinessDays.Distinct().Count() != BusinessDays.Count)
        {
            yield return $"{prefix}.BusinessDays names a day twice.";
        }

        string? zoneError = null;
        try
        {
            _ = ResolveTimeZone();
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            zoneError = $"{prefix}.TimeZone '{TimeZone}' is not a time zone of this machine.";
        }

        if (zoneError is not null)
        {
            yield return zoneError;
        }
    }
}
