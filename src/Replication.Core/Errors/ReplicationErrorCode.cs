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
}
