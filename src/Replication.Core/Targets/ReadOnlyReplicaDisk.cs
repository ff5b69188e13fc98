using Replication.Core.Disks;

namespace Replication.Core.Targets;

/// <summary>
/// Base of a target's read-only view of its replica (a page blob or one of its snapshots, a local recovery point): a
/// fixed disk with no file of its own that is never written (<see cref="VirtualDisk"/> refuses writes before they reach
/// it) and has nothing to flush.
/// </summary>
internal abstract class ReadOnlyReplicaDisk : VirtualDisk
{
    public override string? FilePath => null;

    public override DiskType DiskType => DiskType.Fixed;

    public override bool IsReadOnly => true;

    protected override void WriteCore(long offset, ReadOnlySpan<byte> source) => throw new NotSupportedException("A read-only view of a replica cannot be written.");

    protected override void FlushCore()
    {
    }
}
