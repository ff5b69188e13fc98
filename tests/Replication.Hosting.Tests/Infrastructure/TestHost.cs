using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Operations;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// A real generic host running the replication host — Quartz with its ADO.NET store in a SQLite file, the store, the
/// item jobs — on a fake clock, with fake item operations or with the real engine over a local site in the folder
/// (<c>site</c>). Start it again on the same folder to see what a restart keeps.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private readonly FakeItemOperations? _operations;

    private TestHost(string folder, IHost host, FakeTimeProvider clock, FakeItemOperations? operations)
    {
        Folder = folder;
        _host = host;
        Clock = clock;
        _operations = operations;
    }

    /// <summary>Monday 2 March 2026, 10:00 UTC: inside the default business hours.</summary>
    public static DateTimeOffset Monday10 { get; } = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    /// <summary>The folder holding the host's database and its local site.</summary>
    public string Folder { get; }

    public FakeTimeProvider Clock { get; }

    /// <summary>The fake operations (a host started with the engine has none).</summary>
    public FakeItemOperations Operations => _operations ?? throw new InvalidOperationException("This host runs the real engine.");

    public IServiceProvider Services => _host.Services;

    public ReplicationService Service => _host.Services.GetRequiredService<ReplicationService>();

    public static async Task<TestHost> StartAsync(
        string folder, FakeTimeProvider? clock = null, FakeItemOperations? operations = null, Action<ReplicationHostOptions>? configure = null, IRecoveryOperations? recovery = null)
    {
        clock ??= new FakeTimeProvider(Monday10) { AutoAdvanceAmount = TimeSpan.Zero };
        operations ??= new FakeItemOperations(clock);
        return await StartAsync(
            folder,
            clock,
            operations,
            b =>
            {
                b.UseItemOperations(_ => operations);
                if (recovery is not null)
                {
                    b.UseRecoveryOperations(_ => recovery);
                }
            },
            configure);
    }

    /// <summary>A host running the real engine against a local site in <c>FOLDER/site</c>, with the machines <paramref name="machines"/> lends.</summary>
    public static Task<TestHost> StartWithEngineAsync(string folder, IMachineProvider machines, FakeTimeProvider? clock = null, Action<ReplicationHostOptions>? configure = null) =>
        StartAsync(folder, clock ?? new FakeTimeProvider(Monday10) { AutoAdvanceAmount = TimeSpan.Zero }, null, b => b.UseMachineProvider(_ => machines), configure);

    /// <summary>The local site the host writes to.</summary>
    public static string SitePath(string folder) => Path.Combine(folder, "site");

    private static async Task<TestHost> StartAsync(
        string folder, FakeTimeProvider clock, FakeItemOperations? operations, Action<IReplicationBuilder> build, Action<ReplicationHostOptions>? configure)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLogging(l => { l.SetMinimumLevel(Environment.GetEnvironmentVariable("REPL_TEST_LOG") is null ? LogLevel.Warning : LogLevel.Debug); if (Environment.GetEnvironmentVariable("REPL_TEST_LOG") is not null) { l.AddSimpleConsole(); } });
        builder.Services.AddSingleton<TimeProvider>(clock);
        // What Host.CreateApplicationBuilder registers: the meters come from the container's factory (the metrics tests
        // tell this host's measurements from those of other hosts in the process by it).
        builder.Services.AddMetrics();
        IReplicationBuilder replication = builder.Services.AddReplication(o =>
            {
                o.HostId = "test-host";
                o.SqlitePath = Path.Combine(folder, "host.db");
                o.DefaultPolicy = new ItemPolicy { ResyncWindow = new ResyncWindow { TimeZone = "UTC" } };
                configure?.Invoke(o);
            })
            .AddLocalSite(SitePath(folder));
        build(replication);
        IHost host = builder.Build();
        await host.StartAsync();
        return new TestHost(folder, host, clock, operations);
    }

    /// <summary>
    /// Reads until <paramref name="read"/> finds what it looks for, waiting for the host's next save between reads (an
    /// event, not time; a minute of wall time bounds a test that would otherwise hang).
    /// </summary>
    public async Task<T> WaitForAsync<T>(Func<Task<T?>> read)
        where T : class
    {
        JobEvents events = _host.Services.GetRequiredService<JobEvents>();
        while (true)
        {
            Task next = events.Next;
            if (await read() is { } found)
            {
                return found;
            }

            await next.WaitAsync(TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>Waits until the item's record satisfies <paramref name="done"/>.</summary>
    public Task<HostedItem> WaitForItemAsync(string name, Func<HostedItem, bool> done) =>
        WaitForAsync(async () => await Service.Store.GetItemAsync(name) is { } item && done(item) ? item : null);

    /// <summary>Moves the fake clock to <paramref name="time"/> (Quartz's timers on it fire).</summary>
    public void AdvanceTo(DateTimeOffset time)
    {
        TimeSpan by = time - Clock.GetUtcNow();
        if (by > TimeSpan.Zero)
        {
            Clock.Advance(by);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
