using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Local;

namespace Replication.Core.Tests.Targets;

/// <summary>
/// The contract on the local directory target. Its replica format defaults to a fixed VHD; until the VHD format lands
/// in this branch the contract runs with raw replicas (the target only goes through <see cref="VirtualDisk"/>).
/// </summary>
public sealed class LocalDirectoryTargetContractTests : ReplicaTargetContractTests
{
    private string? _root;

    protected override Task<IReplicaTarget> NewTargetAsync(TimeProvider? clock = null, TimeSpan? lease = null)
    {
        _root = Dir.File("target");
        return Task.FromResult<IReplicaTarget>(new LocalDirectoryTarget(_root, Options(lease), clock));
    }

    protected override IReplicaTarget SameTarget(IReplicaTarget target, TimeProvider? clock = null) =>
        new LocalDirectoryTarget(target.Location, Options(null), clock);

    private static LocalDirectoryTargetOptions Options(TimeSpan? lease) => new()
    {
        // The default: a fixed VHD, the format a recovery-site VM boots from.
        LeaseDuration = lease ?? TimeSpan.FromSeconds(60),
        FenceWaitTimeout = TimeSpan.FromSeconds(5),
    };
}
