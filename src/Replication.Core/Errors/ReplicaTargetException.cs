namespace Replication.Core;

/// <summary>
/// A replica target refused or failed a request: its <see cref="ReplicationException.Code"/> and
/// <see cref="ReplicationException.IsRecoverable"/> say what went wrong and whether a retry can help, and
/// <see cref="RetryAfter"/> how long the service asked callers to wait before retrying. The message never holds a key,
/// SAS or token.
/// </summary>
public class ReplicaTargetException : ReplicationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">What went wrong.</param>
    /// <param name="isRecoverable">Whether the same request may succeed when retried.</param>
    /// <param name="message">Names the target and what failed.</param>
    /// <param name="retryAfter">How long the service asked to wait before a retry, or null.</param>
    /// <param name="innerException">The underlying failure, if it carries no secret.</param>
    public ReplicaTargetException(
        ReplicationErrorCode code,
        bool isRecoverable,
        string message,
        TimeSpan? retryAfter = null,
        Exception? innerException = null)
        : this(code, isRecoverable, message, 0, null, retryAfter, innerException)
    {
    }

    /// <summary>Creates the exception for a service's answer, keeping its HTTP status and error code for the library's own decisions.</summary>
    internal ReplicaTargetException(
        ReplicationErrorCode code,
        bool isRecoverable,
        string message,
        int status,
        string? serviceErrorCode,
        TimeSpan? retryAfter = null,
        Exception? innerException = null)
        : base(code, isRecoverable, message, innerException)
    {
        Status = status;
        ServiceErrorCode = serviceErrorCode;
        RetryAfter = retryAfter;
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicaTargetException()
        : this(ReplicationErrorCode.Unknown, false, "A replica target request failed.")
    {
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicaTargetException(string message)
        : this(ReplicationErrorCode.Unknown, false, message)
    {
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicaTargetException(string message, Exception innerException)
        : this(ReplicationErrorCode.Unknown, false, message, innerException: innerException)
    {
    }

    /// <summary>The HTTP status of the answer, or 0 when there was none (a timeout, a reset connection, a local failure).</summary>
    internal int Status { get; }

    /// <summary>The service's error code, such as <c>ServerBusy</c> or <c>ContainerNotFound</c>, or null.</summary>
    internal string? ServiceErrorCode { get; }

    /// <summary>How long the service asked callers to wait before retrying (Retry-After), or null.</summary>
    public TimeSpan? RetryAfter { get; }
}
