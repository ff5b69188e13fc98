namespace Replication.Core;

/// <summary>
/// Base of every error this library raises on purpose. Carries a <see cref="ReplicationErrorCode"/> and
/// whether retrying the same operation later can succeed.
/// </summary>
public class ReplicationException : Exception
{
    /// <summary>Creates an exception with a code and a recoverability category.</summary>
    /// <param name="code">What went wrong.</param>
    /// <param name="isRecoverable">Whether a retry of the same operation may succeed.</param>
    /// <param name="message">A message that names what is wrong and where.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public ReplicationException(ReplicationErrorCode code, bool isRecoverable, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        IsRecoverable = isRecoverable;
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicationException()
        : this(ReplicationErrorCode.Unknown, false, "A replication operation failed.")
    {
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicationException(string message)
        : this(ReplicationErrorCode.Unknown, false, message)
    {
    }

    /// <summary>Creates a non-recoverable exception with <see cref="ReplicationErrorCode.Unknown"/>.</summary>
    public ReplicationException(string message, Exception innerException)
        : this(ReplicationErrorCode.Unknown, false, message, innerException)
    {
    }

    /// <summary>What went wrong.</summary>
    public ReplicationErrorCode Code { get; }

    /// <summary>True when retrying the same operation later may succeed; false when an operator must act.</summary>
    public bool IsRecoverable { get; }
}
