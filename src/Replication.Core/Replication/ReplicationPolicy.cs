namespace Replication.Core.Replication;

/// <summary>
/// How a protected item is replicated: recovery point retention, application-consistent points, and transfer limits.
/// Immutable; every value is checked when it is set.
/// </summary>
public sealed class ReplicationPolicy
{
    /// <summary>24 points kept for at most 24 hours, no application-consistent points, 8 requests in flight, no bandwidth limit.</summary>
    public static ReplicationPolicy Default { get; } = new();

    /// <summary>Most recovery points kept (1 to 10,000); the oldest beyond it are pruned after each cycle.</summary>
    public int RetentionCount
    {
        get;
        init => field = SetterChecks.InRange(value, 1, 10_000);
    } = 24;

    /// <summary>Oldest recovery point kept; older ones are pruned after each cycle (the newest is always kept).</summary>
    public TimeSpan RetentionPeriod
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromHours(24);

    /// <summary>
    /// How often a cycle makes an application-consistent point (the embedding product's quiesce callback runs around its
    /// rotation); null for crash-consistent points only.
    /// </summary>
    public TimeSpan? ApplicationConsistentFrequency
    {
        get;
        init
        {
            if (value is { } frequency)
            {
                ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(frequency, TimeSpan.Zero);
            }

            field = value;
        }
    }

    /// <summary>Requests in flight per disk transfer (1 to 64).</summary>
    public int MaxConcurrency
    {
        get;
        init => field = SetterChecks.InRange(value, 1, 64);
    } = 8;

    /// <summary>Bandwidth limit of the data sent, in bytes per second, or null for none.</summary>
    public long? MaxBytesPerSecond
    {
        get;
        init
        {
            if (value is { } rate)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(rate, 4096);
            }

            field = value;
        }
    }

    /// <summary>Copy a machine's disks at the same time during initial replication and resync, rather than one after another (as Azure Site Recovery does by default).</summary>
    public bool ParallelDisks { get; init; }
}
