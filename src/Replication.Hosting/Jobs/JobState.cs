namespace Replication.Hosting.Jobs;

/// <summary>Where a job is.</summary>
public enum JobState
{
    /// <summary>Running now (or interrupted by a process exit, until a host resumes it).</summary>
    InProgress,

    /// <summary>Failed with a recoverable error; the next attempt is at <see cref="JobRecord.NextAttempt"/>.</summary>
    WaitingForRetry,

    /// <summary>Completed.</summary>
    Succeeded,

    /// <summary>Failed; no retry is scheduled (non-recoverable, or superseded by a new job).</summary>
    Failed,

    /// <summary>Stopped by the host shutting down or an operator, before it completed; resumed as the same job when it runs again.</summary>
    Cancelled,
}
