using Replication.Core.ChangeTracking;
using Replication.Core.Replication.Sites;

namespace Replication.Core.Replication;

/// <summary>
/// The primary side of a protected item as it is open now: the site it replicates to, its name there, and its disks
/// with their change tracking. The disks belong to the caller (the embedding product, the NBD server, the CLI), which
/// keeps writing through them while the engine works.
/// </summary>
public sealed class ProtectedMachine
{
    /// <summary>Creates the handle.</summary>
    /// <param name="site">The recovery site.</param>
    /// <param name="name">The item's name at the site.</param>
    /// <param name="disks">The machine's tracked disks, in the item's disk order.</param>
    /// <exception cref="ArgumentException">The name is invalid, no disk is given, or a disk is given twice.</exception>
    public ProtectedMachine(IReplicationSite site, string name, IReadOnlyList<TrackedDisk> disks)
    {
        ArgumentNullException.ThrowIfNull(site);
        ItemNames.Check(name);
        ArgumentNullException.ThrowIfNull(disks);
        if (disks.Count == 0 || disks.Any(d => d is null) || disks.Distinct().Count() != disks.Count)
        {
            throw new ArgumentException("Give one or more distinct tracked disks.", nameof(disks));
        }

        Site = site;
        Name = name;
        Disks = [.. disks];
    }

    /// <summary>The recovery site.</summary>
    public IReplicationSite Site { get; }

    /// <summary>The item's name at the site.</summary>
    public string Name { get; }

    /// <summary>The tracked disks, in the item's disk order.</summary>
    public IReadOnlyList<TrackedDisk> Disks { get; }

    /// <summary>
    /// Quiesces the machine's applications for an application-consistent point: called just before the disks rotate
    /// together; disposing what it returns thaws them (right after the rotation). Null: points are crash-consistent.
    /// </summary>
    public Func<CancellationToken, ValueTask<IAsyncDisposable>>? Quiesce { get; init; }

    /// <summary>
    /// Take each replica's writer fence even from a writer that still holds it: an operator's decision once that writer
    /// is known to be gone (a killed process whose Azure lease has not lapsed yet). The writer fenced off can change
    /// nothing after.
    /// </summary>
    public bool BreakFences { get; init; }
}
