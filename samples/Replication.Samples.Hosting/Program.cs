// Replication.Hosting inside a generic host: AddReplication with a SQLite store and a local-directory site. The sample
// protects one disk, writes to it, runs delta cycles on demand (ReplicateNowAsync) and waits for each job's end through
// the JobObserver - no sleeping - then reads items, jobs and recovery points through ReplicationService, checks the
// newest point byte for byte against the disk, and stops the host. Exit 0 when every check holds, 1 otherwise.
//
//   dotnet run --project samples/Replication.Samples.Hosting -- [WORK_DIRECTORY]
using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;

string work = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), $"replication-hosting-{Environment.ProcessId}"));
Directory.CreateDirectory(work);
string sitePath = Path.Combine(work, "site");
string diskPath = Path.Combine(work, "app.vhdx");
VirtualDisk.Create(diskPath, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = 16L << 20 }).Dispose();

// Each finished job completes the waiter registered for its item; JobObserver is told of every job's start, steps and end.
var finished = new ConcurrentDictionary<string, TaskCompletionSource<JobRecord>>();
Task<JobRecord> NextJobEnd(string item) =>
    finished.GetOrAdd(item, _ => new TaskCompletionSource<JobRecord>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddReplication(o =>
    {
        o.HostId = "sample-host";
        o.SqlitePath = Path.Combine(work, "replication.db");
        // Cycles would run every 15 minutes by themselves; this sample runs them on demand instead.
        o.DefaultPolicy = new ItemPolicy { CopyFrequency = TimeSpan.FromMinutes(15), RetentionCount = 8 };
        o.JobObserver = (job, step) =>
        {
            if (step is null && job.State is not JobState.InProgress && finished.TryRemove(job.Item, out TaskCompletionSource<JobRecord>? done))
            {
                done.TrySetResult(job);
            }

            return ValueTask.CompletedTask;
        };
    })
    .AddLocalSite(sitePath);

using IHost host = builder.Build();
await host.StartAsync();
ReplicationService replication = host.Services.GetRequiredService<ReplicationService>();
var failures = new List<string>();

// Protect: the host runs enable protection (initial replication, first recovery point) at once.
Task<JobRecord> protectedJob = NextJobEnd("app");
await replication.AddItemAsync("app", [diskPath]);
Report(await protectedJob);

// Two delta cycles: the disk is written through its tracker (as the host's default machine provider opens it), then the
// host runs the item's job now.
var random = new Random(7);
for (int cycle = 1; cycle <= 2; cycle++)
{
    await using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(diskPath), diskPath + ".logs"))
    {
        byte[] data = new byte[64 << 10];
        for (int i = 0; i < 8; i++)
        {
            random.NextBytes(data);
            await disk.WriteAsync(random.NextInt64(0, (disk.VirtualSize - data.Length) / 512) * 512, data);
        }

        await disk.FlushAsync();
    }

    Task<JobRecord> cycleJob = NextJobEnd("app");
    await replication.ReplicateNowAsync("app");
    Report(await cycleJob);
}

// The query API: items and jobs from the host's store, recovery points from the site.
foreach (HostedItem item in await replication.ListItemsAsync())
{
    Console.WriteLine($"item  {item.Name}  state {item.State}  protection {item.ProtectionState}  last point {item.LastRecoveryPointId}");
    if (item.State != HostedItemState.Healthy)
    {
        failures.Add($"item {item.Name} is {item.State}: {item.CriticalReason}");
    }
}

IReadOnlyList<JobRecord> jobs = await replication.ListJobsAsync("app");
foreach (JobRecord job in jobs.Reverse())
{
    Console.WriteLine($"job   {job.Id}  {job.Kind,-16} {job.State}  attempt {job.Attempt}");
}

int cycles = jobs.Count(j => j.Kind == JobKind.DeltaCycle && j.State == JobState.Succeeded);
if (cycles != 2)
{
    failures.Add($"{cycles} delta cycles succeeded, not 2");
}

IReadOnlyList<RecoveryPointInfo> points = await replication.ListRecoveryPointsAsync("app");
Console.WriteLine($"points {string.Join(", ", points.Select(p => p.Id))}");
IReadOnlyList<IVirtualDisk> newest = await new ReplicationEngine().OpenRecoveryPointAsync(new LocalReplicationSite(sitePath), "app", points[^1].Id);
using (VirtualDisk disk = VirtualDisk.Open(diskPath, DiskOpenOptions.ReadOnlyAccess))
{
    byte[] expected = new byte[disk.VirtualSize], actual = new byte[newest[0].VirtualSize];
    disk.Read(0, expected);
    newest[0].Read(0, actual);
    if (!expected.AsSpan().SequenceEqual(actual))
    {
        failures.Add($"recovery point {points[^1].Id} differs from the disk");
    }
    else
    {
        Console.WriteLine($"check recovery point {points[^1].Id} equals the disk byte for byte");
    }
}

foreach (IVirtualDisk disk in newest)
{
    disk.Dispose();
}

await host.StopAsync();   // waits for running jobs; the store keeps the items and schedule for the next start
foreach (string failure in failures)
{
    Console.Error.WriteLine($"FAILED: {failure}");
}

return failures.Count == 0 ? 0 : 1;

void Report(JobRecord job)
{
    Console.WriteLine($"job   {job.Kind} of {job.Item}: {job.State}{(job.Error is { } e ? $" ({e.Code}: {e.Message})" : "")}");
    if (job.State != JobState.Succeeded)
    {
        failures.Add($"{job.Kind} {job.State}");
    }
}
