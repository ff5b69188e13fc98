using System.Net.Sockets;

namespace Replication.Core;

/// <summary>
/// Classifies any failure as a <see cref="ReplicationException"/> with a code and whether a retry can help: broken log
/// or disk chains, invalid replica state, authentication and authorisation failures and missing disks are
/// non-recoverable (an operator must act); network failures, throttling, timeouts, low disk space and low memory are
/// recoverable. The hosting layer's retry policy acts on this.
/// </summary>
public static class ReplicationErrors
{
    private const int NoSpaceLeft = 28; // ENOSPC
    private const int QuotaExceeded = 122; // EDQUOT

    /// <summary>
    /// <paramref name="exception"/> itself when it is a <see cref="ReplicationException"/>; otherwise one that carries it
    /// as its inner exception, with the code and category of what it means.
    /// </summary>
    /// <param name="exception">The failure.</param>
    /// <param name="what">What was being done, for the message ("replicating 'web'").</param>
    public static ReplicationException Classify(Exception exception, string what)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentException.ThrowIfNullOrEmpty(what);
        return exception switch
        {
            ReplicationException known => known,
            AggregateException { InnerExceptions.Count: 1 } one => Classify(one.InnerExceptions[0], what),
            OutOfMemoryException or InsufficientMemoryException =>
                new ReplicationException(ReplicationErrorCode.LowMemory, true, $"{what}: the process ran short of memory.", exception),
            IOException io when (io.HResult & 0xFFFF) is NoSpaceLeft or QuotaExceeded || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) =>
                new ReplicationException(ReplicationErrorCode.LowDiskSpace, true, $"{what}: no space left on the device ({io.Message}).", exception),
            FileNotFoundException or DirectoryNotFoundException =>
                new ReplicationException(ReplicationErrorCode.NotFound, false, $"{what}: {exception.Message}", exception),
            UnauthorizedAccessException =>
                new ReplicationException(ReplicationErrorCode.AuthenticationFailed, false, $"{what}: access denied ({exception.Message}).", exception),
            TimeoutException or SocketException or HttpRequestException =>
                new ReplicationException(ReplicationErrorCode.TargetUnavailable, true, $"{what}: {exception.Message}", exception),
            IOException =>
                new ReplicationException(ReplicationErrorCode.IoFailure, true, $"{what}: {exception.Message}", exception),
            _ => new ReplicationException(ReplicationErrorCode.Unknown, false, $"{what}: {exception.Message}", exception),
        };
    }
}
