using Replication.Core.ChangeTracking;
using Replication.Core.Replication;

namespace Replication.Hosting.Items;

/// <summary>
/// How the host replicates one item: copy frequency, recovery point retention, application-consistent points, the
/// resync window and threshold, upload concurrency and bandwidth. A mutable options class; checked by
/// <see cref="Validate"/> when the host starts and whenever an item is registered.
/// </summary>
public sealed class ItemPolicy
{
    /// <summary>The shortest copy frequency: Hyper-V Replica's 30 seconds.</summary>
    public static readonly TimeSpan MinimumCopyFrequency = TimeSpan.FromSeconds(30);

    /// <summary>How often a delta cycle runs: 30 s, 5 min, 15 min (Hyper-V's values) or any value of at least 30 s. Default 5 minutes.</summary>
    public TimeSpan CopyFrequency { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most recovery points kept (1 to 10,000). Default 24.</summary>
    public int RetentionCount { get; set; } = 24;

    /// <summary>Oldest recovery point kept. Default 24 hours.</summary>
    public TimeSpan RetentionPeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often a cycle makes an application-consistent point; null for crash-consistent points only.</summary>
    public TimeSpan? ApplicationConsistentFrequency { get; set; }

    /// <summary>When a resync the tracker asked for may run.</summary>
    public ResyncWindow ResyncWindow { get; set; } = new();

    /// <summary>Pending logs, as a fraction of a disk's size, past which the disk needs a resync (0 to 1 exclusive of 0). Default 0.5.</summary>
    public double ResyncThreshold { get; set; } = TrackedDiskOptions.DefaultResyncThreshold;

    /// <summary>Upload requests in flight per disk (1 to 64). Default 8.</summary>
    public int UploadConcurrency { get; set; } = 8;

    /// <summary>Bandwidth limit of the data sent, bytes per second (at least 4096), or null for none.</summary>
    public long? MaxBytesPerSecond { get; set; }

    /// <summary>Every problem with the policy, each naming its option; empty when it is valid.</summary>
    /// <param name="prefix">The options path to name problems by (<c>ReplicationHostOptions.DefaultPolicy</c>).</param>
    public IReadOnlyList<string> Validate(string prefix = nameof(ItemPolicy))
    {
        var problems = new List<string>();
        if (CopyFrequency < MinimumCopyFrequency)
        {
            problems.Add($"{prefix}.CopyFrequency must be at least 30 seconds (is {CopyFrequency}).");
        }

        if (RetentionCount is < 1 or > 10_000)
        {
            problems.Add($"{prefix}.RetentionCount must be 1 to 10000 (is {RetentionCount}).");
        }

        if (RetentionPeriod <= TimeSpan.Zero)
        {
            problems.Add($"{prefix}.RetentionPeriod must be positive (is {RetentionPeriod}).");
        }

        if (ApplicationConsistentFrequency is { } app && app < CopyFrequency)
        {
            problems.Add($"{prefix}.ApplicationConsistentFrequency must be at least the copy frequency (is {app}).");
        }

        if (!(ResyncThreshold > 0 && ResyncThreshold <= 1))
        {
            problems.Add($"{prefix}.ResyncThreshold must be greater than 0 and at most 1 (is {ResyncThreshold}).");
        }

        if (UploadConcurrency is < 1 or > 64)
        {
            problems.Add($"{prefix}.UploadConcurrency must be 1 to 64 (is {UploadConcurrency}).");
        }

        if (MaxBytesPerSecond is < 4096)
        {
            problems.Add($"{prefix}.MaxBytesPerSecond must be at least 4096 (is {MaxBytesPerSecond}).");
        }

        if (ResyncWindow is null)
        {
            problems.Add($"{prefix}.ResyncWindow must be set.");
        }
        else
        {
            problems.AddRange(ResyncWindow.Validate(prefix + ".ResyncWindow"));
        }

        return problems;
    }

    /// <summary>The engine's policy for this item.</summary>
    public ReplicationPolicy ToEnginePolicy() => new()
    {
        RetentionCount = RetentionCount,
        RetentionPeriod = RetentionPeriod,
        ApplicationConsistentFrequency = ApplicationConsistentFrequency,
        MaxConcurrency = UploadConcurrency,
        MaxBytesPerSecond = MaxBytesPerSecond,
    };

    /// <summary>A copy that shares nothing with this one.</summary>
    public ItemPolicy Clone() => new()
    {
        CopyFrequency = CopyFrequency,
        RetentionCount = RetentionCount,
        RetentionPeriod = RetentionPeriod,
        ApplicationConsistentFrequency = ApplicationConsistentFrequency,
        ResyncThreshold = ResyncThreshold,
        UploadConcurrency = UploadConcurrency,
        MaxBytesPerSecond = MaxBytesPerSecond,
        ResyncWindow = new ResyncWindow
        {
            BusinessDays = [.. ResyncWindow.BusinessDays],
            BusinessHoursStart = ResyncWindow.BusinessHoursStart,
            BusinessHoursEnd = ResyncWindow.BusinessHoursEnd,
            TimeZone = ResyncWindow.TimeZone,
            Always = ResyncWindow.Always,
        },
    };
}
