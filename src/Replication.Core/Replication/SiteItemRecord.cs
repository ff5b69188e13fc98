using System.Text.Json.Serialization;

namespace Replication.Core.Replication;

/// <summary>
/// The site's record of a protected item: enough to fail over with the primary gone (the machine, the network mapping,
/// each disk's replica and how far its log chain is applied, the recovery points) and the item's state. Kept at the
/// site as a checksummed JSON record (<see cref="ItemRecordCodec"/>), replaced atomically, and written only by the
/// holder of the item's disk fences.
/// </summary>
internal sealed class SiteItemRecord
{
    public required string Name { get; set; }

    public Guid RelationshipId { get; set; }

    /// <summary>Grows by one with every write: a record read earlier is stale when the stored one has moved on.</summary>
    public long Generation { get; set; }

    public ProtectionState State { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public ErrorRecord? LastError { get; set; }

    public required MachineRecord Machine { get; set; }

    public Dictionary<string, string> NetworkMapping { get; set; } = [];

    public PolicyRecord Policy { get; set; } = new();

    public List<DiskRecord> Disks { get; set; } = [];

    /// <summary>Completed delta cycles (and resyncs/initial replications, which end in a cycle).</summary>
    public long Cycle { get; set; }

    public DateTimeOffset? LastCycleAt { get; set; }

    public DateTimeOffset? LastApplicationConsistentAt { get; set; }

    /// <summary>Retained machine recovery points, oldest first.</summary>
    public List<PointRecord> Points { get; set; } = [];

    public TestFailoverRecord? TestFailover { get; set; }

    public FailoverRecord? Failover { get; set; }

    public ReplicationPolicy ToPolicy() => new()
    {
        RetentionCount = Policy.RetentionCount,
        RetentionPeriod = Policy.RetentionPeriod,
        ApplicationConsistentFrequency = Policy.ApplicationConsistentFrequency,
        MaxConcurrency = Policy.MaxConcurrency,
        MaxBytesPerSecond = Policy.MaxBytesPerSecond,
        ParallelDisks = Policy.ParallelDisks,
    };

    public static PolicyRecord FromPolicy(ReplicationPolicy policy) => new()
    {
        RetentionCount = policy.RetentionCount,
        RetentionPeriod = policy.RetentionPeriod,
        ApplicationConsistentFrequency = policy.ApplicationConsistentFrequency,
        MaxConcurrency = policy.MaxConcurrency,
        MaxBytesPerSecond = policy.MaxBytesPerSecond,
        ParallelDisks = policy.ParallelDisks,
    };
}

internal sealed class ErrorRecord
{
    public ReplicationErrorCode Code { get; set; }

    public bool Recoverable { get; set; }

    public required string Message { get; set; }

    public DateTimeOffset At { get; set; }
}

internal sealed class MachineRecord
{
    public required string Name { get; set; }

    public int CpuCount { get; set; }

    public long MemoryBytes { get; set; }

    public List<AdapterRecord> NetworkAdapters { get; set; } = [];

    public static MachineRecord From(MachineDescription machine) => new()
    {
        Name = machine.Name,
        CpuCount = machine.CpuCount,
        MemoryBytes = machine.MemoryBytes,
        NetworkAdapters = [.. machine.NetworkAdapters.Select(a => new AdapterRecord { Name = a.Name, Network = a.Network, MacAddress = a.MacAddress })],
    };

    public MachineDescription ToDescription() => new()
    {
        Name = Name,
        CpuCount = CpuCount,
        MemoryBytes = MemoryBytes,
        NetworkAdapters = [.. NetworkAdapters.Select(a => new NetworkAdapter { Name = a.Name, Network = a.Network, MacAddress = a.MacAddress })],
    };
}

internal sealed class AdapterRecord
{
    public required string Name { get; set; }

    public required string Network { get; set; }

    public string? MacAddress { get; set; }
}

internal sealed class PolicyRecord
{
    public int RetentionCount { get; set; } = 24;

    public TimeSpan RetentionPeriod { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan? ApplicationConsistentFrequency { get; set; }

    public int MaxConcurrency { get; set; } = 8;

    public long? MaxBytesPerSecond { get; set; }

    public bool ParallelDisks { get; set; }
}

internal sealed class DiskRecord
{
    public int Index { get; set; }

    /// <summary>The disk's path at the primary when protection was enabled (for people; a failover does not need it).</summary>
    public required string SourcePath { get; set; }

    public long VirtualSize { get; set; }

    /// <summary>The replica's size (the virtual size rounded up to what the site requires).</summary>
    public long ReplicaSize { get; set; }

    /// <summary>
    /// The UniqueId of the last log the replica has taken: the next log to apply names it as its PreviousUniqueId. Null
    /// until the disk's first copy (initial replication or resync) has recorded where its chain continues.
    /// </summary>
    public Guid? AppliedThrough { get; set; }

    /// <summary>True when enabling protection created the replica (it read as zeros before the initial copy).</summary>
    public bool ReplicaCreatedEmpty { get; set; }

    /// <summary>True once the disk's copy (initial or resync) is complete; the logs after <see cref="AppliedThrough"/> then bring it current.</summary>
    public bool CopyComplete { get; set; }

    /// <summary>The resynchronisation under way for this disk, or null.</summary>
    public ResyncRecord? Resync { get; set; }
}

internal sealed class ResyncRecord
{
    /// <summary>The UniqueId the disk's chain continues from once the copy is done.</summary>
    public Guid ContinueFrom { get; set; }

    public long Generation { get; set; }

    public int Reasons { get; set; }

    public bool WholeDisk { get; set; }

    /// <summary>Offset and length pairs of the ranges to compare, when not the whole disk.</summary>
    public List<long[]> Ranges { get; set; } = [];

    public DateTimeOffset StartedAt { get; set; }

    /// <summary>True for the initial copy (the replica was created empty), false for a resync of an existing replica.</summary>
    public bool Initial { get; set; }
}

internal sealed class PointRecord
{
    public required string Id { get; set; }

    public long Cycle { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public RecoveryPointKind Kind { get; set; }

    public List<string> DiskPoints { get; set; } = [];

    public RecoveryPointInfo ToInfo() => new(Id, Cycle, CreatedAt, Kind, [.. DiskPoints]);
}

internal sealed class TestFailoverRecord
{
    public required string PointId { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public List<string> Disks { get; set; } = [];

    public string? OutputDirectory { get; set; }
}

internal sealed class FailoverRecord
{
    public required string Kind { get; set; }

    public required string PointId { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public List<string> Disks { get; set; } = [];

    public string? OutputDirectory { get; set; }
}

/// <summary>Source-generated JSON for the records (no reflection, so a trimmed CLI keeps them).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(SiteItemRecord))]
[JsonSerializable(typeof(PrimaryDiskRecord))]
internal sealed partial class ReplicationJsonContext : JsonSerializerContext;
