using Replication.Core.Disks;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// Writes the difference between two disks as one sealed HRL log: exactly the 512-byte sectors that differ, with the new
/// disk's data, so applying the log to a copy of the old disk gives the new one. A portable delta, for seeding a site
/// offline or checking a replica.
/// </summary>
public interface IDeltaLog
{
    /// <summary>
    /// Compares <paramref name="oldDisk"/> with <paramref name="newDisk"/> and writes the sectors that differ to a new
    /// sealed log at <paramref name="path"/>, with its integrity sidecar. Only ranges that may hold data on either disk
    /// are read. Records are runs of differing sectors, at most 1 MiB each, ascending. The log is written beside its
    /// final path and renamed into place once sealed, so the path never holds a partial log.
    /// </summary>
    /// <param name="oldDisk">The disk the log applies to.</param>
    /// <param name="newDisk">The disk the log leads to; same size.</param>
    /// <param name="path">The log to create; it must not exist.</param>
    /// <param name="previousUniqueId">The <c>UniqueId</c> of the log this one follows (<see cref="Guid.Empty"/> for none).</param>
    /// <param name="cancellationToken">Cancels the comparison; nothing is left at <paramref name="path"/>.</param>
    /// <returns>The sealed log.</returns>
    /// <exception cref="ArgumentException">The disks differ in size.</exception>
    /// <exception cref="IOException">The log already exists.</exception>
    Task<DeltaLogResult> CreateAsync(
        IVirtualDisk oldDisk,
        IVirtualDisk newDisk,
        string path,
        Guid previousUniqueId = default,
        CancellationToken cancellationToken = default);
}
