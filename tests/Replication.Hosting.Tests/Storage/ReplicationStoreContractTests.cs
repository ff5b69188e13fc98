using Replication.Core;
using Replication.Core.Replication;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;
using Replication.Hosting.Storage;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Storage;

/// <summary>What every store must do, run against SQLite and PostgreSQL alike.</summary>
public abstract class ReplicationStoreContractTests
{
    protected abstract Task<IReplicationStore> CreateAsync();

    [Fact]
    public async Task An_item_round_trips_with_its_policy_and_retry_state()
    {
        IReplicationStore store = await CreateAsync();
        var first = DateTimeOffset.Parse("2026-03-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        await store.SaveItemAsync(new HostedItem
        {
            Name = "web",
            Disks = ["/d/web-0.vhdx", "/d/web-1.vhdx"],
            Policy = new ItemPolicy { CopyFrequency = TimeSpan.FromSeconds(30), ResyncWindow = new ResyncWindow { BusinessHoursStart = 7, TimeZone = "Europe/Paris" } },
            PinnedHost = "host-a",
            State = HostedItemState.Retrying,
            ProtectionState = ProtectionState.Protected,
            RetryFirstFailure = first,
            RetryAttempt = 3,
            NextAttempt = first.AddMinutes(7),
            Updated = first,
        });

        HostedItem read = (await store.GetItemAsync("web"))!;
        Assert.Equal(["/d/web-0.vhdx", "/d/web-1.vhdx"], read.Disks);
        Assert.Equal(TimeSpan.FromSeconds(30), read.Policy.CopyFrequency);
        Assert.Equal(7, read.Policy.ResyncWindow.BusinessHoursStart);
        Assert.Equal("Europe/Paris", read.Policy.ResyncWindow.TimeZone);
        Assert.Equal("host-a", read.PinnedHost);
        Assert.Equal(HostedItemState.Retrying, read.State);
        Assert.Equal(ProtectionState.Protected, read.ProtectionState);
        Assert.Equal(first, read.RetryFirstFailure);
        Assert.Equal(3, read.RetryAttempt);
        Assert.Equal(first.AddMinutes(7), read.NextAttempt);

        read.State = HostedItemState.Healthy;
        await store.SaveItemAsync(read);
        Assert.Equal(HostedItemState.Healthy, (await store.GetItemAsync("web"))!.State);
        Assert.Null(await store.GetItemAsync("nope"));
    }

    [Fact]
    public async Task Items_and_plans_list_in_name_order_and_delete_takes_the_jobs_too()
    {
        IReplicationStore store = await CreateAsync();
        foreach (string name in new[] { "b", "a", "c" })
        {
            await store.SaveItemAsync(new HostedItem { Name = name, Disks = ["/d/" + name], Policy = new ItemPolicy() });
            await store.AddJobAsync(new JobRecord { Id = "job-" + name, Kind = JobKind.DeltaCycle, Item = name });
        }

        Assert.Equal(["a", "b", "c"], (await store.ListItemsAsync()).Select(i => i.Name));
        await store.DeleteItemAsync("b");
        await store.DeleteItemAsync("b");
        Assert.Equal(["a", "c"], (await store.ListItemsAsync()).Select(i => i.Name));
        Assert.Equal(["job-c", "job-a"], (await store.ListJobsAsync()).Select(j => j.Id));

        await store.SavePlanAsync(new RecoveryPlan { Name = "z", Groups = [new RecoveryPlanGroup { Items = ["a"] }] });
        await store.SavePlanAsync(new RecoveryPlan
        {
            Name = "dr",
            Groups = [new RecoveryPlanGroup { Items = ["a", "c"], PreActions = ["stop-lb"] }, new RecoveryPlanGroup { Items = ["b"], PostActions = ["dns"] }],
        });
        Assert.Equal(["dr", "z"], (await store.ListPlansAsync()).Select(p => p.Name));
        RecoveryPlan plan = (await store.GetPlanAsync("dr"))!;
        Assert.Equal(["a", "c"], plan.Groups[0].Items);
        Assert.Equal(["stop-lb"], plan.Groups[0].PreActions);
        Assert.Equal(["dns"], plan.Groups[1].PostActions);
    }

    [Fact]
    public async Task A_job_keeps_its_state_error_and_steps_in_order()
    {
        IReplicationStore store = await CreateAsync();
        var started = DateTimeOffset.FromUnixTimeMilliseconds(1_770_000_000_123);
        var job = new JobRecord { Id = "j1", Kind = JobKind.DeltaCycle, Item = "web", Host = "h1", Started = started };
        await store.AddJobAsync(job);
        await store.AddStepAsync("j1", new JobStep("rotated", started.AddSeconds(1)));
        await store.AddStepAsync("j1", new JobStep("shipped disk 0", started.AddSeconds(2)));

        JobRecord open = (await store.FindOpenJobAsync("web"))!;
        Assert.Equal("j1", open.Id);
        Assert.Equal(["rotated", "shipped disk 0"], open.Steps.Select(s => s.Name));
        Assert.Equal(started.AddSeconds(2), open.Steps[1].At);

        job.State = JobState.WaitingForRetry;
        job.Attempt = 2;
        job.NextAttempt = started.AddMinutes(1);
        job.Progress = 0.25;
        job.Error = new JobError { IsRecoverable = true, Code = ReplicationErrorCode.TargetUnavailable, Message = "site: 503" };
        await store.UpdateJobAsync(job);
        JobRecord waiting = (await store.GetJobAsync("j1"))!;
        Assert.Equal(JobState.WaitingForRetry, waiting.State);
        Assert.Equal(2, waiting.Attempt);
        Assert.Equal(started.AddMinutes(1), waiting.NextAttempt);
        Assert.Equal(0.25, waiting.Progress);
        Assert.Equal("recoverable", waiting.Error!.Category);
        Assert.Equal(ReplicationErrorCode.TargetUnavailable, waiting.Error.Code);

        job.State = JobState.Succeeded;
        job.Ended = started.AddMinutes(2);
        job.Error = null;
        await store.UpdateJobAsync(job);
        Assert.Null(await store.FindOpenJobAsync("web"));
        Assert.Equal(started.AddMinutes(2), (await store.GetJobAsync("j1"))!.Ended);
    }

    [Fact]
    public async Task Adding_a_job_twice_or_updating_a_missing_one_is_refused()
    {
        IReplicationStore store = await CreateAsync();
        var job = new JobRecord { Id = "same", Kind = JobKind.Resync, Item = "x" };
        await store.AddJobAsync(job);
        await Assert.ThrowsAsync<ReplicationStoreException>(() => store.AddJobAsync(job));
        await Assert.ThrowsAsync<ReplicationStoreException>(() => store.UpdateJobAsync(new JobRecord { Id = "other", Kind = JobKind.Resync, Item = "x" }));
    }

    [Fact]
    public async Task Jobs_list_newest_first_per_item_and_bounded()
    {
        IReplicationStore store = await CreateAsync();
        for (int i = 0; i < 30; i++)
        {
            await store.AddJobAsync(new JobRecord { Id = $"j{i:00}", Kind = JobKind.DeltaCycle, Item = i % 2 == 0 ? "even" : "odd", State = JobState.Succeeded });
        }

        Assert.Equal(["j29", "j28", "j27"], (await store.ListJobsAsync(limit: 3)).Select(j => j.Id));
        IReadOnlyList<JobRecord> even = await store.ListJobsAsync("even");
        Assert.Equal(15, even.Count);
        Assert.Equal("j28", even[0].Id);
        Assert.All(even, j => Assert.Equal("even", j.Item));
    }

    [Fact]
    public async Task Many_writers_at_once_lose_nothing()
    {
        IReplicationStore store = await CreateAsync();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                string id = $"w{w}-{i}";
                await store.AddJobAsync(new JobRecord { Id = id, Kind = JobKind.DeltaCycle, Item = "item" + w });
                await store.AddStepAsync(id, new JobStep("rotated", DateTimeOffset.UnixEpoch));
            }
        })));

        Assert.Equal(80, (await store.ListJobsAsync()).Count);
        Assert.Single((await store.GetJobAsync("w7-9"))!.Steps);
    }

    [Fact]
    public async Task A_plan_with_a_duplicate_item_is_refused_naming_it()
    {
        IReplicationStore store = await CreateAsync();
        var plan = new RecoveryPlan { Name = "p", Groups = [new RecoveryPlanGroup { Items = ["a"] }, new RecoveryPlanGroup { Items = ["a"] }] };
        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => store.SavePlanAsync(plan));
        Assert.Contains("'a' twice", error.Message, StringComparison.Ordinal);
    }
}

public sealed class SqliteStoreTests : ReplicationStoreContractTests, IDisposable
{
    private readonly TempDirectory _dir = new();

    protected override async Task<IReplicationStore> CreateAsync()
    {
        SqlReplicationStore store = SqlReplicationStore.Sqlite(_dir.File("sub/site.db"));
        await store.InitializeAsync();
        await store.InitializeAsync();
        return store;
    }

    [Fact]
    public async Task A_corrupt_database_file_gives_a_store_error_naming_the_file()
    {
        string path = _dir.File("bad.db");
        await File.WriteAllBytesAsync(path, [.. Enumerable.Repeat((byte)0x5A, 8192)]);
        ReplicationStoreException error = await Assert.ThrowsAsync<ReplicationStoreException>(() => SqlReplicationStore.Sqlite(path).InitializeAsync());
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresServer server) : ReplicationStoreContractTests
{
    protected override async Task<IReplicationStore> CreateAsync()
    {
        SqlReplicationStore store = SqlReplicationStore.Postgres(server.CreateDatabase());
        await Task.WhenAll(store.InitializeAsync(), store.InitializeAsync());
        return store;
    }

    [Fact]
    public async Task An_unreachable_server_is_a_recoverable_store_error_without_the_password()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        ReplicationStoreException error = await Assert.ThrowsAsync<ReplicationStoreException>(
            () => SqlReplicationStore.Postgres($"Host=127.0.0.1;Port={port};Username=u;Password=s3cret;Database=d;Timeout=5").InitializeAsync());
        Assert.True(error.IsRecoverable);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }
}
