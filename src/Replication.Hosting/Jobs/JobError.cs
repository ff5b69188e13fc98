using Replication.Core;

namespace Replication.Hosting.Jobs;

/// <summary>Why a job failed: the category the retry policy acts on, the error code and the message.</summary>
public sealed class JobError
{
    /// <summary>True when a retry may succeed (<c>recoverable</c>); false when an operator must act (<c>nonRecoverable</c>).</summary>
    public required bool IsRecoverable { get; init; }

    /// <summary>The engine's error code.</summary>
    public required ReplicationErrorCode Code { get; init; }

    /// <summary>The message, naming what failed and where.</summary>
    public required string Message { get; init; }

    /// <summary>The category as the jobs list spells it: <c>recoverable</c> or <c>nonRecoverable</c>.</summary>
    public string Category => IsRecoverable ? "recoverable" : "nonRecoverable";

    /// <summary>The error of a classified failure.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public static JobError From(ReplicationException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new JobError { IsRecoverable = exception.IsRecoverable, Code = exception.Code, Message = exception.Message.ReplaceLineEndings(" ") };
    }
}
