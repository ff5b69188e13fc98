// The packed packages as a consumer gets them: Replication.Hosting's AddReplication in a generic host (SQLite store,
// local-directory site) protects a disk; Replication.Core's ReplicationEngine opens the recovery point, which must equal
// the disk byte for byte. Prints which package versions it runs. Exit 0 when the copy is equal, 1 otherwise.
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting;
using Replication.Hosting.Jobs;

string work = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), $"replication-packages-{Environment.ProcessId}"));
Directory.CreateDirectory(work);
foreach (Assembly assembly in new[] { typeof(VirtualDisk).Assembly, typeof(ReplicationService).Assembly })
{
    string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
    Console.WriteLine($"{assembly.GetName().Name} {version.Split('+')[0]} loaded from {Path.GetFileName(assembly.Location)}");
}

string diskPath = Path.Combine(work, "disk.vhdx");
using (VirtualDisk disk = VirtualDisk.Create(diskPath, new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = 8L << 20 }))
{
    byte[] data = new byte[1 << 20];
    new Random(11).NextBytes(data);
    disk.Write(3L << 20, data);
    disk.Flush();
}

var protectedJob = new TaskCompletionSource<JobRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddReplication(o =>
    {
        o.HostId = "packages-sample";
        o.SqlitePath = Path.Combine(work, "replication.db");
        o.JobObserver = (job, step) =>
        {
            if (step is null && job.State is not JobState.InProgress)
            {
                protectedJob.TrySetResult(job);
            }

            return ValueTask.CompletedTask;
        };
    })
    .AddLocalSite(Path.Combine(work, "site"));
using IHost host = builder.Build();
await host.StartAsync();
ReplicationService replication = host.Services.GetRequiredService<ReplicationService>();
await replication.AddItemAsync("disk", [diskPath]);
JobRecord job = await protectedJob.Task;
Console.WriteLine($"{job.Kind}: {job.State}");
bool equal = false;
if (job.State == JobState.Succeeded)
{
    RecoveryPointInfo point = (await replication.ListRecoveryPointsAsync("disk"))[^1];
    IReadOnlyList<IVirtualDisk> copy = await new ReplicationEngine().OpenRecoveryPointAsync(new LocalReplicationSite(Path.Combine(work, "site")), "disk", point.Id);
    using VirtualDisk source = VirtualDisk.Open(diskPath, DiskOpenOptions.ReadOnlyAccess);
    byte[] expected = new byte[source.VirtualSize], actual = new byte[copy[0].VirtualSize];
    source.Read(0, expected);
    copy[0].Read(0, actual);
    copy[0].Dispose();
    equal = expected.AsSpan().SequenceEqual(actual);
}

await host.StopAsync();
Console.WriteLine(equal ? "the copy equals the source byte for byte" : "FAILED: the copy differs from the source");
return equal ? 0 : 1;
