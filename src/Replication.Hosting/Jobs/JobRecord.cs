namespace Replication.Hosting.Jobs;

/// <summary>
/// One job as the store keeps it: what it does, for which item, where it is, its attempts, steps and error. A job keeps
/// its identity across retries and across a restart of the host that ran it: an interrupted job is resumed as itself,
/// so each job completes once.
/// </summary>
public sealed class JobRecord
{
    /// <summary>The job's identifier.</summary>
    public required string Id { get; init; }

    /// <summary>What it does.</summary>
    public required JobKind Kind { get; set; }

    /// <summary>The item (or, for <see cref="JobKind.RecoveryPlan"/>, the plan).</summary>
    public required string Item { get; init; }

    /// <summary>Where it is.</summary>
    public JobState State { get; set; } = JobState.InProgress;

    /// <summary>Attempts made so far, from 1.</summary>
    public int Attempt { get; set; } = 1;

    /// <summary>The host that ran (or runs) its latest attempt.</summary>
    public string? Host { get; set; }

    /// <summary>When the job was started.</summary>
    public DateTimeOffset Started { get; set; }

    /// <summary>When it ended (succeeded or failed for good), or null.</summary>
    public DateTimeOffset? Ended { get; set; }

    /// <summary>When the next attempt is due (a recoverable failure), or null.</summary>
    public DateTimeOffset? NextAttempt { get; set; }

    /// <summary>Progress of the current attempt, 0 to 1.</summary>
    public double Progress { get; set; }

    /// <summary>The last failure, or null.</summary>
    public JobError? Error { get; set; }

    /// <summary>A short result (<c>point 12, 4 MiB sent</c>), or null.</summary>
    public string? Result { get; set; }

    /// <summary>The steps completed, oldest first (filled when the job is read with its steps).</summary>
    public IReadOnlyList<JobStep> Steps { get; set; } = [];
}
