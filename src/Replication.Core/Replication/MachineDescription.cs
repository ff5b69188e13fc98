namespace Replication.Core.Replication;

/// <summary>
/// What a protected machine is, beside its disks: enough for the embedding product to start it at the recovery site.
/// Kept in the site's record of the item, so a failover needs nothing from the primary.
/// </summary>
public sealed class MachineDescription
{
    /// <summary>The machine's name (1 to 256 characters).</summary>
    public required string Name
    {
        get;
        init => field = SetterChecks.Name(value);
    }

    /// <summary>Virtual processors (1 to 4096).</summary>
    public int CpuCount
    {
        get;
        init => field = SetterChecks.InRange(value, 1, 4096);
    } = 1;

    /// <summary>Memory in bytes (at least 1 MiB).</summary>
    public long MemoryBytes
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1L << 20);
            field = value;
        }
    } = 1L << 30;

    /// <summary>The network adapters, each attached to a named network at the primary.</summary>
    public IReadOnlyList<NetworkAdapter> NetworkAdapters
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Any(a => a is null))
            {
                throw new ArgumentException("A network adapter is null.", nameof(value));
            }

            field = [.. value];
        }
    } = [];
}
