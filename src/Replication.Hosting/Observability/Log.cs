using Microsoft.Extensions.Logging;

namespace Replication.Hosting.Observability;

/// <summary>The host's log messages, generated at build time (no formatting unless the level is on).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Host {HostId} started: {Items} items, store {Store}, clustered {Clustered}")]
    public static partial void HostStarted(ILogger logger, string hostId, int items, string store, bool clustered);

    [LoggerMessage(2, LogLevel.Information, "Job {JobId} ({Kind}) of '{Item}' started, attempt {Attempt}")]
    public static partial void JobStarted(ILogger logger, string jobId, string kind, string item, int attempt);

    [LoggerMessage(3, LogLevel.Information, "Job {JobId} ({Kind}) of '{Item}' succeeded: {Result}")]
    public static partial void JobSucceeded(ILogger logger, string jobId, string kind, string item, string result);

    [LoggerMessage(4, LogLevel.Warning, "Job {JobId} of '{Item}' failed (recoverable, {Code}); attempt {Attempt}, next at {NextAttempt:O}: {Message}")]
    public static partial void JobWillRetry(ILogger logger, string jobId, string item, string code, int attempt, DateTimeOffset nextAttempt, string message);

    [LoggerMessage(5, LogLevel.Error, "Job {JobId} of '{Item}' failed (non-recoverable, {Code}); the item is critical until an operator resumes it: {Message}")]
    public static partial void ItemCritical(ILogger logger, string jobId, string item, string code, string message);

    [LoggerMessage(6, LogLevel.Information, "'{Item}' needs a resync; it waits for the resync window")]
    public static partial void ResyncWaitsForWindow(ILogger logger, string item);

    [LoggerMessage(7, LogLevel.Information, "Job {JobId} of '{Item}' was interrupted on host {Host}; resuming it at its checkpoint")]
    public static partial void JobResumed(ILogger logger, string jobId, string item, string host);

    [LoggerMessage(8, LogLevel.Information, "Recovery plan '{Plan}' ({Operation}) {Outcome}")]
    public static partial void PlanFinished(ILogger logger, string plan, string operation, string outcome);
}
