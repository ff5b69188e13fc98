using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// A real generic host running the replication host — Quartz with its ADO.NET store in a SQLite file, the store, the
/// item jobs — on a fake clock, with fake item operations. Start it again on the same folder to see what a restart keeps.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private TestHost(IHost host, FakeTimeProvider clock, FakeItemOperations operations)
    {
        _host = host;
        Clock = clock;
        Operations = operations;
    }

    /// <summary>Monday 2 March 2026, 10:00 UTC: inside the default business hours.</summary>
    public static DateTimeOffset Monday10 { get; } = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Clock { get; }

    public FakeItemOperations Operations { get; }

    public IServiceProvider Services => _host.Services;

    public ReplicationService Service => _host.Services.GetRequiredService<ReplicationService>();

    public static async Task<TestHost> StartAsync(string folder, FakeTimeProvider? clock = null, FakeItemOperations? operations = null, Action<ReplicationHostOptions>? configure = null)
    {
        clock ??= new FakeTimeProvider(Monday10) { AutoAdvanceAmount = TimeSpan.Zero };
        operations ??= new FakeItemOperations(clock);
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLogging(l => { l.SetMinimumLevel(Environment.GetEnvironmentVariable("REPL_TEST_LOG") is null ? LogLevel.Warning : LogLevel.Debug); if (Environment.GetEnvironmentVariable("REPL_TEST_LOG") is not null) { l.AddSimpleConsole(); } });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddReplication(o =>
            {
                o.HostId = "test-host";
                o.SqlitePath = Path.Combine(folder, "host.db");
                o.DefaultPolicy = new ItemPolicy { ResyncWindow = new ResyncWindow { TimeZone = "UTC" } };
                configure?.Invoke(o);
            })
            .AddLocalSite(Path.Combine(folder, "site"))
            .UseItemOperations(_ => operations);
        IHost host = builder.Build();
        await host.StartAsync();
        return new TestHost(host, clock, operations);
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
