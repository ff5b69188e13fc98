using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Replication.Core.Replication.Sites;
using Replication.Hosting;
using Replication.Hosting.TestChild;
using Replication.Hosting.Items;
using Replication.Hosting.Plans;

// The replication host as a child process for restart and scale-out tests, on a clock the parent drives.
//   args: FOLDER START(ISO 8601) STOP-AT (KIND/STEP, or "none")
//         [HOST-ID POSTGRES-CONNSTR AZURE-CONNSTR CONTAINER]: one of several hosts sharing PostgreSQL and an Azure
//         site, on the system clock (START is then ignored), each job's start and end stamped with the wall clock's ticks
//   stdin: "add NAME FREQUENCY-SECONDS DISK…", "add-pinned NAME HOST FREQUENCY-SECONDS DISK…", "advance SECONDS", "resync NAME",
//          "plan NAME OPERATION OUTPUT-FOLDER ITEM…" (saves a plan of one group per item and starts a run of it; its job's
//          line tells how it ended), "exit"
//   stdout: "ready", "ok" after each command, "step JOB KIND ITEM STEP", "job JOB KIND ITEM STATE"
// At the step STOP-AT names, the job stops for good (it never returns from that step): the parent kills the process
// there, after the step is durable.
string folder = args[0];
var clock = new FakeTimeProvider(DateTimeOffset.Parse(args[1], CultureInfo.InvariantCulture)) { AutoAdvanceAmount = TimeSpan.Zero };
string stopAt = args[2];
bool clustered = args.Length > 3;
var output = TextWriter.Synchronized(Console.Out);

HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
builder.Services.AddLogging(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
if (!clustered)
{
    builder.Services.AddSingleton<TimeProvider>(clock);
}

IReplicationBuilder replication = builder.Services.AddReplication(o =>
{
    o.HostId = clustered ? args[3] : "child";
    o.SqlitePath = clustered ? null : Path.Combine(folder, "host.db");
    o.PostgresConnectionString = clustered ? args[4] : null;
    o.ClusterCheckinInterval = TimeSpan.FromSeconds(2);
    o.DefaultPolicy = new ItemPolicy { ResyncWindow = new ResyncWindow { TimeZone = "UTC" } };
    o.JobObserver = async (job, step) =>
    {
        output.WriteLine(step is null
            ? $"job {job.Id} {job.Kind} {job.Item} {job.State} {job.Host} {DateTime.UtcNow.Ticks}"
            : $"step {job.Id} {job.Kind} {job.Item} {step.Name}");
        output.Flush();
        // STOP-AT names a step exactly, or the words it starts with ("TestFailover/in recovery plan run").
        string at = $"{job.Kind}/{step?.Name}";
        if (step is not null && (at == stopAt || at.StartsWith(stopAt + " ", StringComparison.Ordinal)))
        {
            await Task.Delay(Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        }
    };
});
if (clustered)
{
    // Every replica write this host makes goes to writes-HOST.log (WriteLogSite), for the scale-out test's check.
    replication.AddAzureSite(args[5], args[6]);
    var writes = TextWriter.Synchronized(new StreamWriter(
        new FileStream(Path.Combine(folder, $"writes-{args[3]}.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)));
    builder.Services.Replace(ServiceDescriptor.Singleton<IReplicationSite>(sp =>
        new WriteLogSite(new AzureReplicationSite(args[5], args[6], timeProvider: sp.GetRequiredService<TimeProvider>()), args[3], writes)));
}
else
{
    replication.AddLocalSite(Path.Combine(folder, "site"));
}

using IHost host = builder.Build();
await host.StartAsync().ConfigureAwait(false);
ReplicationService service = host.Services.GetRequiredService<ReplicationService>();
var plans = new List<Task<RecoveryPlanReport>>();
output.WriteLine("ready");
output.Flush();
while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
{
    string[] words = line.Split(' ');
    switch (words[0])
    {
        case "add":
            await service.AddItemAsync(words[1], words[3..], new ItemPolicy
            {
                CopyFrequency = TimeSpan.FromSeconds(int.Parse(words[2], CultureInfo.InvariantCulture)),
                ResyncWindow = new ResyncWindow { TimeZone = "UTC" },
                ApplicationConsistentFrequency = null,
            }).ConfigureAwait(false);
            break;
        case "add-pinned":
            await service.AddItemAsync(words[1], words[4..], new ItemPolicy
            {
                CopyFrequency = TimeSpan.FromSeconds(int.Parse(words[3], CultureInfo.InvariantCulture)),
                ResyncWindow = new ResyncWindow { TimeZone = "UTC" },
                ApplicationConsistentFrequency = null,
            }, pinnedHost: words[2]).ConfigureAwait(false);
            break;
        case "advance":
            clock.Advance(TimeSpan.FromSeconds(int.Parse(words[1], CultureInfo.InvariantCulture)));
            break;
        case "resync":
            await service.RequestResyncAsync(words[1]).ConfigureAwait(false);
            break;
        case "plan":
            await service.Store.SavePlanAsync(new RecoveryPlan { Name = words[1], Groups = [.. words[4..].Select(i => new RecoveryPlanGroup { Items = [i] })] }).ConfigureAwait(false);
            RecoveryPlanRunOptions run = new() { Operation = Enum.Parse<RecoveryPlanOperation>(words[2]), OutputDirectory = words[3] };
            plans.Add(host.Services.GetRequiredService<RecoveryPlanRunner>().RunAsync(words[1], run));
            break;
        case "exit":
            await Task.WhenAll(plans).ConfigureAwait(false);
            await host.StopAsync().ConfigureAwait(false);
            output.WriteLine("ok");
            return 0;
        default:
            throw new InvalidOperationException($"unknown command '{line}'");
    }

    output.WriteLine("ok");
    output.Flush();
}

return 0;
