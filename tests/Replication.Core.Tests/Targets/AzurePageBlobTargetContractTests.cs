using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Targets;

/// <summary>The contract on the Azure page-blob target, against the Azurite the test script starts.</summary>
public sealed class AzurePageBlobTargetContractTests : ReplicaTargetContractTests
{
    private string? _container;

    protected override async Task<IReplicaTarget> NewTargetAsync(TimeProvider? clock = null, TimeSpan? lease = null)
    {
        _container = await Azurite.NewContainerAsync();
        return Azurite.Target(_container, options: Options(clock, lease));
    }

    protected override IReplicaTarget SameTarget(IReplicaTarget target, TimeProvider? clock = null) =>
        Azurite.Target(_container!, options: Options(clock, null));

    private static AzurePageBlobTargetOptions Options(TimeProvider? clock, TimeSpan? lease) => new()
    {
        TimeProvider = clock ?? TimeProvider.System,
        LeaseDuration = lease ?? TimeSpan.FromSeconds(60),
    };
}
