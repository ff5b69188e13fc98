using System.Text.Json;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Time.Testing;
using Replication.Core.Disks;
using Replication.Core.Resilience;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Targets;

/// <summary>What only the Azure target has to prove: a bootable fixed VHD, retries under faults, and clear errors.</summary>
public sealed class AzurePageBlobTargetTests : IDisposable
{
    private const long Size = 24L << 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_seeded_blob_is_a_fixed_vhd_that_qemu_reads_as_the_source()
    {
        string container = await Azurite.NewContainerAsync();
        string source = _dir.File("source.img");
        ReplicaTargetContractTests.WriteRaw(source, ReplicaTargetContractTests.HalfZeroContent(Size, 31));
        await SeedAsync(Azurite.Target(container), source, new SyncOptions { DestinationKnownZero = true });

        string vhd = _dir.File("blob.vhd");
        await new BlobServiceClient(Azurite.ConnectionString).GetBlobContainerClient(container).GetBlobClient("replica.vhd").DownloadToAsync(vhd);
        Assert.Equal(Size + 512, new FileInfo(vhd).Length);
        using JsonDocument info = JsonDocument.Parse(ExternalTool.RunChecked("qemu-img", "info", "--output=json", "-f", "vpc", vhd));
        Assert.Equal(Size, info.RootElement.GetProperty("virtual-size").GetInt64());
        string raw = _dir.File("converted.raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "vpc", "-O", "raw", vhd, raw);
        DiskAssert.FilesEqual(source, raw);
        ExternalTool.RunChecked("vhdiinfo", vhd);
    }

    [Fact]
    public async Task A_fifth_of_requests_failing_still_gives_an_identical_replica_and_every_retry_is_counted()
    {
        string container = await Azurite.NewContainerAsync();
        // Answers and resets only: a timeout needs the caller's deadline, which a busy machine can also reach on a
        // request nobody failed. Timeouts are injected on the transfer's own clock in the sequential test below.
        var faults = new FaultInjectionPolicy(0.2, seed: 42, applies: IsPageRequest) { Kinds = ["503", "500", "reset"] };
        var client = new BlobClientOptions();
        client.AddPolicy(faults, HttpPipelinePosition.PerRetry);
        IReplicaTarget target = Azurite.Target(container, options: new AzurePageBlobTargetOptions { ClientOptions = client });
        string source = _dir.File("source.img");
        byte[] content = ReplicaTargetContractTests.HalfZeroContent(Size, 32);
        ReplicaTargetContractTests.WriteRaw(source, content);

        // Faults start with the seed (the target retries its own control requests; the pipeline counts the data ones).
        // Not known zero: zero runs are cleared, so Clear Pages requests meet faults too.
        faults.Enabled = false;
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        await target.CreateReplicaAsync(Size);
        TransferResult result;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            faults.Enabled = true;
            result = (await new DiskSynchronizer().SeedAsync(disk, writer, options: new SyncOptions
            {
                Transfer = new TransferOptions
                {
                    MaxConcurrency = 6,
                    MaxWriteSize = 256 * 1024,
                    RequestTimeout = Timeout.InfiniteTimeSpan,
                    Retry = new RequestRetryOptions { BaseDelay = TimeSpan.FromMilliseconds(20), MaxAttempts = 12 },
                },
            })).Transfer!;
            faults.Enabled = false;
        }

        // Every retry is one the injector caused, or a failure it saw the service answer by itself.
        Assert.True(faults.Injected >= 10, $"only {faults.Injected} faults were injected");
        Assert.Equal(faults.Injected + faults.ServiceFailures, result.Retries);
        Assert.All(faults.Kinds, kind => Assert.True(faults.ByKind.GetValueOrDefault(kind) > 0, $"no {kind} was injected"));
        Assert.All(faults.BusyRetries, busy => Assert.True(busy.Value.Retried is not null, $"{busy.Key} was not retried after its 503"));

        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(content, replica);
    }

    [Fact]
    public async Task Faults_on_a_sequential_seed_are_retried_exactly_when_the_transfer_clock_says()
    {
        string container = await Azurite.NewContainerAsync();
        TimeSpan deadline = TimeSpan.FromSeconds(30);
        var clock = new TimerWatchingClock();

        // One request at a time, so an injected timeout moving the clock past its deadline expires that request only.
        var faults = new FaultInjectionPolicy(0.25, seed: 7, applies: IsPageRequest) { Clock = clock, OnHang = () => clock.Advance(deadline) };
        var client = new BlobClientOptions();
        client.AddPolicy(faults, HttpPipelinePosition.PerRetry);
        IReplicaTarget target = Azurite.Target(container, options: new AzurePageBlobTargetOptions { ClientOptions = client, LeaseDuration = Timeout.InfiniteTimeSpan });
        string source = _dir.File("source.img");
        byte[] content = ReplicaTargetContractTests.HalfZeroContent(Size, 33);
        ReplicaTargetContractTests.WriteRaw(source, content);

        faults.Enabled = false;
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        await target.CreateReplicaAsync(Size);
        TransferResult result;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            faults.Enabled = true;
            Task<SyncResult> run = new DiskSynchronizer(clock).SeedAsync(disk, writer, options: new SyncOptions
            {
                Transfer = new TransferOptions
                {
                    MaxConcurrency = 1,
                    MaxWriteSize = 512 * 1024,
                    RequestTimeout = deadline,
                    Retry = new RequestRetryOptions { BaseDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromSeconds(5), MaxAttempts = 12 },
                },
            });

            // The clock moves to the end of every back-off and Retry-After the transfer waits; a request's deadline only
            // passes when an injected timeout moves the clock.
            result = (await clock.DriveAsync(run, due => due != deadline)).Transfer!;
            faults.Enabled = false;
        }

        Assert.True(faults.Injected >= 10, $"only {faults.Injected} faults were injected");
        Assert.Equal(faults.Injected, result.Retries);
        Assert.Equal(0, faults.ServiceFailures);
        Assert.All(FaultInjectionPolicy.AllKinds, kind => Assert.True(faults.ByKind.GetValueOrDefault(kind) > 0, $"no {kind} was injected"));
        Assert.NotEmpty(faults.BusyRetries);
        foreach ((string request, (DateTimeOffset failed, DateTimeOffset? retried)) in faults.BusyRetries)
        {
            Assert.True(retried - failed >= faults.RetryAfter, $"{request}: a 503 with Retry-After: 1 was retried {retried - failed} later on the transfer's clock");
        }

        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(content, replica);
    }

    [Fact]
    public async Task A_missing_container_is_a_clear_error_that_is_not_retried()
    {
        var requests = new FaultInjectionPolicy(0, seed: 1, applies: _ => false);
        var client = new BlobClientOptions();
        client.AddPolicy(requests, HttpPipelinePosition.PerRetry);
        IReplicaTarget target = Azurite.Target("no-such-container", options: new AzurePageBlobTargetOptions { ClientOptions = client });
        var ex = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.CreateReplicaAsync(1 << 20));
        Assert.Equal(ReplicationErrorCode.NotFound, ex.Code);
        Assert.False(ex.IsRecoverable);
        Assert.Contains("container does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no-such-container", ex.Message, StringComparison.Ordinal);
        Assert.NotEmpty(requests.Sent);
        Assert.All(requests.Sent, sent => Assert.True(sent.Value == 1, $"{sent.Key} was sent {sent.Value} times"));
        var put = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.PutLogAsync("a.log", new MemoryStream([1, 2, 3])));
        Assert.Equal(ReplicationErrorCode.NotFound, put.Code);
    }

    [Fact]
    public async Task Bad_credentials_fail_at_once_without_the_key_in_any_message()
    {
        string container = await Azurite.NewContainerAsync();
        string wrong = Azurite.WithWrongKey();
        string wrongKey = wrong.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))["AccountKey=".Length..];
        var requests = new FaultInjectionPolicy(0, seed: 1, applies: _ => false);
        var client = new BlobClientOptions();
        client.AddPolicy(requests, HttpPipelinePosition.PerRetry);
        IReplicaTarget target = new AzurePageBlobTarget(wrong, container, "replica.vhd", new AzurePageBlobTargetOptions { ClientOptions = client });
        var ex = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.CreateReplicaAsync(1 << 20));
        Assert.NotEmpty(requests.Sent);
        Assert.All(requests.Sent, sent => Assert.True(sent.Value == 1, $"an authentication failure was retried: {sent.Key} was sent {sent.Value} times"));
        Assert.Equal(ReplicationErrorCode.AuthenticationFailed, ex.Code);
        Assert.False(ex.IsRecoverable);
        Assert.Equal(403, ex.Status);
        Assert.Contains("key, SAS or token", ex.Message, StringComparison.Ordinal);
        string everything = ex.ToString();
        Assert.DoesNotContain(wrongKey, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Azurite.AccountKey, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("Signature", everything, StringComparison.OrdinalIgnoreCase);

        var format = Assert.Throws<ArgumentException>(() => new AzurePageBlobTarget("AccountName=x;AccountKey=not*base64;BlobEndpoint=http://127.0.0.1:1/x", container, "b"));
        Assert.DoesNotContain("not*base64", format.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_service_is_recoverable_and_given_up_after_bounded_attempts()
    {
        IReplicaTarget target = new AzurePageBlobTarget(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + Azurite.AccountKey + ";BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
            "c00",
            "replica.vhd",
            new AzurePageBlobTargetOptions { Retry = new RequestRetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(10) } });
        var ex = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await target.CreateReplicaAsync(1 << 20));
        Assert.Equal(ReplicationErrorCode.TargetUnavailable, ex.Code);
        Assert.True(ex.IsRecoverable);
        Assert.Contains("gave up after 3 attempts", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Azurite.AccountKey, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sizes_Azure_cannot_hold_are_rejected_before_any_request()
    {
        string container = await Azurite.NewContainerAsync();
        IReplicaTarget target = Azurite.Target(container);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync((1 << 20) + 512));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await target.CreateReplicaAsync(9L << 40));
        Assert.Null(await target.GetReplicaSizeAsync());
    }

    [Fact]
    public async Task The_service_itself_rejects_a_stale_writers_page_writes()
    {
        string container = await Azurite.NewContainerAsync();
        // The stale writer's clock stands still: its fence keeper never renews, so it cannot learn of the takeover
        // before its write however slowly this machine runs (it would then refuse the write itself, without a status).
        IReplicaTarget target = Azurite.Target(container, timeProvider: new FakeTimeProvider(DateTimeOffset.UtcNow));
        await target.CreateReplicaAsync(4 << 20);
        IReplicaWriter stale = await target.AcquireWriterAsync();
        await using IReplicaWriter current = await Azurite.Target(container).AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = true });

        // The stale writer has not been told; its request reaches the service and is refused there (412).
        var ex = await Assert.ThrowsAsync<ReplicaTargetException>(async () => await stale.WriteAsync(0, new byte[4096]));
        Assert.Equal(ReplicationErrorCode.FenceLost, ex.Code);
        Assert.Equal(412, ex.Status);
        PageBlobClient blob = new BlobServiceClient(Azurite.ConnectionString).GetBlobContainerClient(container).GetPageBlobClient("replica.vhd");
        Assert.Equal(current.FenceEpoch, (await blob.GetPropertiesAsync()).Value.BlobSequenceNumber);
        await stale.DisposeAsync();
    }

    private static bool IsPageRequest(HttpMessage message) => message.Request.Uri.Query.Contains("comp=page", StringComparison.Ordinal);

    private static async Task<SyncResult> SeedAsync(IReplicaTarget target, string source, SyncOptions options)
    {
        using VirtualDisk disk = VirtualDisk.Open(source, DiskOpenOptions.ReadOnlyAccess);
        await target.CreateReplicaAsync(disk.VirtualSize);
        await using IReplicaWriter writer = await target.AcquireWriterAsync();
        return await new DiskSynchronizer().SeedAsync(disk, writer, options: options);
    }
}
