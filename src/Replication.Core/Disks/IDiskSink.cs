namespace Replication.Core.Disks;

/// <summary>
/// Where copied data lands and can be read back: a virtual disk (<see cref="IVirtualDisk"/>) or a replica's writer. The
/// one abstraction that seeding, resynchronisation, conversion and log apply write through; it knows how to make a
/// range read as zeros best (punch a hole in a local file, clear pages of a page blob, record zero writes on a tracked
/// disk, or write zeros where nothing better exists).
/// </summary>
/// <remarks>
/// Reads, writes and zeroing of disjoint ranges may run concurrently. A change is durable once <see cref="FlushAsync"/>
/// has returned after it. Each call is one attempt: a transient failure is thrown as a recoverable
/// <see cref="ReplicationException"/>, and the caller may retry it; every write and zeroing is idempotent (the same
/// bytes to the same offset), so a retry after a lost reply is harmless.
/// </remarks>
public interface IDiskSink
{
    /// <summary>Where the data lives, for messages; never holds a secret.</summary>
    string Location { get; }

    /// <summary>Size of the disk in bytes (as the guest sees it); for a virtual disk a multiple of its logical sector size.</summary>
    long VirtualSize { get; }

    /// <summary>
    /// The alignment, in bytes, of every offset and length this sink accepts for writes and zeroing: 1 for a virtual disk
    /// (any byte range), 512 for a replica (whole sectors).
    /// </summary>
    int WriteAlignment { get; }

    /// <summary>True when the sink takes no writes (a disk opened without write access).</summary>
    bool IsReadOnly { get; }

    /// <summary>When this sink's hold on its storage lapses unless <see cref="RenewAsync"/> is called; null when it does not lapse.</summary>
    DateTimeOffset? FenceExpiresAt { get; }

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="offset"/>: what was last written there.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>; durable once <see cref="FlushAsync"/> returns.</summary>
    /// <exception cref="ArgumentException">The offset or length is not a multiple of <see cref="WriteAlignment"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="NotSupportedException">The disk is read-only.</exception>
    /// <exception cref="ReplicationException">A failure of the storage; recoverable when a retry may succeed.</exception>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) read as zeros, freeing
    /// its storage where the sink can; durable, like a write, once <see cref="FlushAsync"/> returns.
    /// </summary>
    /// <exception cref="ArgumentException">The offset or length is not a multiple of <see cref="WriteAlignment"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the disk.</exception>
    /// <exception cref="NotSupportedException">The disk is read-only.</exception>
    /// <exception cref="ReplicationException">A failure of the storage; recoverable when a retry may succeed.</exception>
    ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write and zeroing durable on stable storage.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The ranges inside [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) that may hold
    /// non-zero data, ascending, non-overlapping and merged; every byte outside them reads as zero. A sink that cannot
    /// tell reports the whole range.
    /// </summary>
    IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length);

    /// <summary>Extends this sink's hold on its storage (a replica's fence); does nothing for a sink whose hold does not lapse.</summary>
    /// <exception cref="ReplicationException"><see cref="ReplicationErrorCode.FenceLost"/> when the hold was already lost.</exception>
    ValueTask RenewAsync(CancellationToken cancellationToken = default);
}
