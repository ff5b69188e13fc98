using Replication.Core.Targets.Azure;

namespace Replication.Core.Tests.Targets;

/// <summary>What the Azure SDK throws becomes a typed error, including when its own retry policy gives up.</summary>
public sealed class AzureErrorsTests
{
    [Fact]
    public void The_sdk_giving_up_after_its_retries_maps_to_target_unavailable_from_the_last_failure()
    {
        var refused = new AggregateException(
            "Retry failed after 6 tries.",
            new HttpRequestException("Connection refused (127.0.0.1:9)"),
            new HttpRequestException("Connection refused (127.0.0.1:9)"));
        Assert.True(AzureErrors.TryMap(refused, "http://127.0.0.1:9/acct/c", "listing items", CancellationToken.None, out ReplicaTargetException mapped));
        Assert.Equal(ReplicationErrorCode.TargetUnavailable, mapped.Code);
        Assert.Equal("http://127.0.0.1:9/acct/c: listing items failed: the connection was lost or refused (HttpRequestException).", mapped.Message);
    }

    [Fact]
    public void An_aggregate_of_what_the_target_does_not_explain_is_left_alone()
    {
        Assert.False(AzureErrors.TryMap(new AggregateException(new InvalidOperationException("bug")), "x", "y", CancellationToken.None, out _));
        Assert.False(AzureErrors.TryMap(new AggregateException(), "x", "y", CancellationToken.None, out _));
    }
}
