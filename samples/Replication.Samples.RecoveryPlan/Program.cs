// A recovery plan over three items: the database first, then two web servers in parallel, with pre and post actions
// (delegates) around each group. The sample protects the items in a generic host, runs the plan as a test failover
// (its post action checks each recovered disk against its source, byte for byte), prints the plan report, then runs the
// test failover's cleanup and prints that report. Exit 0 when both runs succeed and every check holds, 1 otherwise.
//
//   dotnet run --project samples/Replication.Samples.RecoveryPlan -- [WORK_DIRECTORY]
using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replication.Core.Disks;
using Replication.Hosting;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;

string work = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), $"replication-plan-{Environment.ProcessId}"));
Directory.CreateDirectory(work);
string[] items = ["db", "web1", "web2"];
var random = new Random(3);
var disks = new Dictionary<string, string>();
foreach (string item in items)
{
    disks[item] = Path.Combine(work, item + ".raw");
    byte[] content = new byte[8 << 20];
    random.NextBytes(content);
    await File.WriteAllBytesAsync(disks[item], content);
}

var ended = new ConcurrentDictionary<string, TaskCompletionSource<JobRecord>>();
Task<JobRecord> JobEnd(string item) => ended.GetOrAdd(item, _ => new TaskCompletionSource<JobRecord>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddReplication(o =>
    {
        o.HostId = "plan-sample";
        o.SqlitePath = Path.Combine(work, "replication.db");
        o.DefaultPolicy = new ItemPolicy { CopyFrequency = TimeSpan.FromMinutes(15) };
        o.JobObserver = (job, step) =>
        {
            if (step is null && job.Kind == JobKind.EnableProtection && job.State is not JobState.InProgress && ended.TryGetValue(job.Item, out var done))
            {
                done.TrySetResult(job);
            }

            return ValueTask.CompletedTask;
        };
    })
    .AddLocalSite(Path.Combine(work, "site"));
using IHost host = builder.Build();
await host.StartAsync();
ReplicationService replication = host.Services.GetRequiredService<ReplicationService>();

// Protect the three items and wait for each one's first recovery point.
Task<JobRecord>[] protections = [.. items.Select(JobEnd)];
foreach (string item in items)
{
    await replication.AddItemAsync(item, [disks[item]]);
}

foreach (JobRecord job in await Task.WhenAll(protections))
{
    Console.WriteLine($"protected {job.Item}: {job.State}");
    if (job.State != JobState.Succeeded)
    {
        return 1;
    }
}

// The plan: group 1 the database, group 2 both web servers. Actions are names; each run maps them to delegates.
await replication.Store.SavePlanAsync(new RecoveryPlan
{
    Name = "shop",
    Groups =
    [
        new RecoveryPlanGroup { Items = ["db"], PreActions = ["announce"], PostActions = ["verify"] },
        new RecoveryPlanGroup { Items = ["web1", "web2"], PreActions = ["announce"], PostActions = ["verify"] },
    ],
});

string output = Path.Combine(work, "dr-test");
var mismatches = new ConcurrentBag<string>();
RecoveryPlanRunOptions Run(RecoveryPlanOperation operation) => new()
{
    Operation = operation,
    OutputDirectory = output,          // each item's recovered disks under dr-test/<item>/
    MaxParallelItems = 2,
    Actions = new Dictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>>
    {
        ["announce"] = (context, _) =>
        {
            Console.WriteLine($"  pre  group {context.Group}: {context.Operation} of {string.Join(", ", context.Items)} starts");
            return Task.CompletedTask;
        },
        ["verify"] = async (context, cancellationToken) =>
        {
            // A smoke test after the group's items: each recovered disk must equal its source (nothing wrote since protection).
            foreach (string item in context.Items.Where(_ => context.Operation == RecoveryPlanOperation.TestFailover))
            {
                string recovered = Directory.GetFiles(Path.Combine(output, item), "*-disk-0.*").Single();
                byte[] expected = await File.ReadAllBytesAsync(disks[item], cancellationToken);
                using VirtualDisk disk = VirtualDisk.Open(recovered, DiskOpenOptions.ReadOnlyAccess);
                byte[] actual = new byte[disk.VirtualSize];
                disk.Read(0, actual);
                bool equal = expected.AsSpan().SequenceEqual(actual);
                Console.WriteLine($"  post group {context.Group}: {item} recovered to {Path.GetFileName(recovered)}, {(equal ? "equal to its source" : "DIFFERS from its source")}");
                if (!equal)
                {
                    mismatches.Add(item);
                }
            }
        },
    },
};

RecoveryPlanRunner runner = host.Services.GetRequiredService<RecoveryPlanRunner>();
Console.WriteLine("test failover of plan 'shop':");
RecoveryPlanReport test = await runner.RunAsync("shop", Run(RecoveryPlanOperation.TestFailover));
Print(test);
Console.WriteLine("cleanup of the test failover:");
RecoveryPlanReport cleanup = await runner.RunAsync("shop", Run(RecoveryPlanOperation.TestFailoverCleanup));
Print(cleanup);
bool removed = items.All(i => !Directory.Exists(Path.Combine(output, i)) || Directory.GetFiles(Path.Combine(output, i), "*-disk-*").Length == 0);
Console.WriteLine(removed ? "every test failover disk was removed" : "FAILED: test failover disks remain after the cleanup");
await host.StopAsync();
return test.Succeeded && cleanup.Succeeded && mismatches.IsEmpty && removed ? 0 : 1;

// The report: the run's outcome, then each group's actions and items with the job that ran each item.
static void Print(RecoveryPlanReport report)
{
    Console.WriteLine(report.Describe());
    foreach (RecoveryPlanGroupReport group in report.Groups)
    {
        Console.WriteLine($"  group {group.Group}  {group.State}");
        foreach (RecoveryPlanActionReport action in group.Actions)
        {
            Console.WriteLine($"    {(action.IsPre ? "pre " : "post")} action {action.Name,-10} {action.State}{(action.Error is { } e ? $": {e}" : "")}");
        }

        foreach (RecoveryPlanItemReport item in group.Items)
        {
            Console.WriteLine($"    item {item.Item,-17} {item.State}  job {item.JobId}{(item.Error is { } e ? $": {e.Message}" : "")}");
        }
    }
}
