namespace Replication.Core.Targets;

/// <summary>
/// A replica target refused or failed a request. Carries the service's status and error code when there is one, and
/// how long the service asked callers to wait before retrying. The message never holds a key, SAS or token.
/// </summary>
public class ReplicaTargetException : ReplicationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">What went wrong.</param>
    /// <param name="isRecoverable">Whether the same request may succeed when retried.</param>
    /// <param name="message">Names the target and what failed.</param>
    /// <param name="status">The HTTP status, or 0 when the request got no answer.</param>
    /// <param name="serviceErrorCode">The service's error code (for example <c>ServerBusy</c>), or null.</param>
    /// <param name="retryAfter">How long the service asked to wait before a retry, or null.</param>
    /// <param name="innerException">The underlying failure, if it carries no secret.</param>
    public ReplicaTargetException(
        ReplicationErrorCode code,
        bool isRecoverable,
        string message,
        int status = 0,
        string? serviceErrorCode = null,
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
    public int Status { get; }

    /// <summary>The service's error code, such as <c>ServerBusy</c> or <c>ContainerNotFound</c>, or null.</summary>
    public string? ServiceErrorCode { get; }

    /// <summary>How long the service asked callers to wait before retrying (Retry-After), or null.</summary>
    public TimeSpan? RetryAfter { get; }
}
