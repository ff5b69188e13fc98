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
        return Azurite.Target(_container, options: Options(lease), timeProvider: clock);
    }

    protected override IReplicaTarget SameTarget(IReplicaTarget target, TimeProvider? clock = null) =>
        Azurite.Target(_container!, options: Options(null), timeProvider: clock);

    private static AzurePageBlobTargetOptions Options(TimeSpan? lease) => new()
    {
        LeaseDuration = lease ?? TimeSpan.FromSeconds(60),
    };
}
