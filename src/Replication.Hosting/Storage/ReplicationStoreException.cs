using Replication.Core;

namespace Replication.Hosting.Storage;

/// <summary>The host's store failed: the database could not be reached or written, or holds a record it cannot read.</summary>
public sealed class ReplicationStoreException : ReplicationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="isRecoverable">Whether a retry may succeed (the database was busy or unreachable).</param>
    /// <param name="message">What failed, naming the database (never its password).</param>
    /// <param name="innerException">The driver's error.</param>
    public ReplicationStoreException(bool isRecoverable, string message, Exception? innerException = null)
        : base(isRecoverable ? ReplicationErrorCode.TargetUnavailable : ReplicationErrorCode.InvalidFormat, isRecoverable, message, innerException)
    {
    }
}
