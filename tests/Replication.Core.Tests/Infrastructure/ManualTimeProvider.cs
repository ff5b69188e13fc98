namespace Replication.Core.Tests.Infrastructure;

/// <summary>A clock that moves only when told to (timers still run on real time).</summary>
public sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    public ManualTimeProvider()
        : this(DateTimeOffset.UtcNow)
    {
    }

    /// <summary>The time the clock reads; set it, or move it with <see cref="Advance"/>.</summary>
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}
