namespace Replication.Core.Tests.Infrastructure;

/// <summary>A clock that moves only when told to (timers still run on real time).</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
