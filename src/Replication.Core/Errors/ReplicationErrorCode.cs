namespace Replication.Core;

/// <summary>What went wrong, as a stable code that callers and retry policies can switch on.</summary>
public enum ReplicationErrorCode
{
    /// <summary>An unexpected failure with no more precise code.</summary>
    Unknown = 0,

    /// <summary>A disk image, log or manifest is corrupt, truncated or not of the expected format.</summary>
    InvalidFormat = 1,

    /// <summary>The requested operation is not supported by this format or disk type.</summary>
    NotSupported = 2,

    /// <summary>A parent disk of a differencing chain is missing, mismatched or forms a cycle.</summary>
    ParentNotFound = 3,

    /// <summary>A file or resource the operation needs does not exist.</summary>
    NotFound = 4,

    /// <summary>An I/O failure that may succeed when retried (disk full, device busy).</summary>
    IoFailure = 5,

    /// <summary>
    /// A change log does not continue the chain it is applied to or listed in (its <c>PreviousUniqueId</c> names
    /// another log: a gap or a fork), or a log of a chain is missing or was altered.
    /// </summary>
    ChainBroken = 6,

    // Replica targets and transfer use 100-199, so codes added elsewhere in parallel never collide.

    /// <summary>
    /// The replica target could not be reached or answered with a transient failure (timeout, connection reset,
    /// 408, 429, 5xx); the same request may succeed when retried.
    /// </summary>
    TargetUnavailable = 100,

    /// <summary>The target refused the credentials (401, 403): a key, SAS or token is wrong, expired or lacks rights.</summary>
    AuthenticationFailed = 101,

    /// <summary>This writer's fence was lost: another writer took over, or its lease lapsed or was released.</summary>
    FenceLost = 102,

    /// <summary>Another writer holds the replica's fence; acquiring it may succeed once that writer releases it.</summary>
    FenceHeld = 103,

    /// <summary>Stored or transferred bytes do not match their integrity hash.</summary>
    IntegrityCheckFailed = 104,

    /// <summary>The resource exists with different content (a replica of another size, a log with another hash).</summary>
    Conflict = 105,

    // The replication engine uses 200-299.

    /// <summary>
    /// The protected item is not in a state that allows the operation (fail back while protected, commit with no failover
    /// in progress): the message names the state and what is allowed in it.
    /// </summary>
    InvalidState = 200,

    /// <summary>
    /// The replica at the site is not in the state its records say (a replica missing, of another size, or a recovery
    /// point the record names gone): it cannot be trusted without an operator.
    /// </summary>
    InvalidReplicaState = 201,

    /// <summary>The local file system has no space left for the logs, checkpoints or records (retry once space is freed).</summary>
    LowDiskSpace = 202,

    /// <summary>The process ran short of memory (retry later, or with less concurrency).</summary>
    LowMemory = 203,
}
