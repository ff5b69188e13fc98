using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.TestChild;

/// <summary>
/// failover &lt;local DIR | azure CONTAINER&gt; &lt;item&gt; &lt;action&gt; &lt;gate step or -&gt; &lt;out dir&gt; &lt;disk&gt;...: runs one
/// failover-side step of the engine (planned, planned-break, unplanned, cancel, commit, failback-minimize, failback-full,
/// failback-alternate, reverse), printing "step NAME" at each durable step; at the gate it prints "gate NAME" and waits
/// on standard input, where the parent kills it. Recovered disks go to the out dir as raw files; an alternate failback
/// writes OUT/alt-N.raw. Ends with "done ACTION".
/// </summary>
public static class FailoverWorkload
{
    public static async Task<int> RunAsync(string[] args)
    {
        IReplicationSite site = args[1] == "local"
            ? new LocalReplicationSite(args[2])
            : new AzureReplicationSite(Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")!, args[2]);
        string item = args[3];
        string action = args[4];
        string gate = args[5];
        var output = new DiskFileOutput(args[6], DiskFormat.Raw);
        string[] paths = args[7..];
        var engine = new ReplicationEngine(new ReplicationEngineOptions
        {
            StepCompleted = step =>
            {
                Say("step " + step);
                if (step == gate)
                {
                    Say("gate " + step);
                    Console.In.ReadLine();
                }

                return ValueTask.CompletedTask;
            },
        });
        switch (action)
        {
            case "planned" or "planned-break" or "reverse":
                var disks = new List<TrackedDisk>();
                foreach (string path in paths)
                {
                    disks.Add(TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs", EngineWorkload.TrackingOptions));
                }

                try
                {
                    // "planned-break": the operator knows the writer killed before is gone (an Azure lease outlives it).
                    var machine = new ProtectedMachine(site, item, disks) { BreakFences = action == "planned-break" };
                    _ = action.StartsWith("planned", StringComparison.Ordinal)
                        ? await engine.FailoverAsync(new FailoverRequest { Site = site, Name = item, Kind = FailoverKind.Planned, Machine = machine, Output = output })
                        : (object)await engine.ReverseReplicationAsync(machine);
                }
                finally
                {
                    foreach (TrackedDisk disk in disks)
                    {
                        await disk.DisposeAsync();
                    }
                }

                break;
            case "unplanned":
                await engine.FailoverAsync(new FailoverRequest { Site = site, Name = item, Kind = FailoverKind.Unplanned, Output = output });
                break;
            case "cancel":
                await engine.CancelFailoverAsync(site, item, output);
                break;
            case "commit":
                await engine.CommitAsync(site, item);
                break;
            default:
                FailbackMode mode = action switch
                {
                    "failback-minimize" => FailbackMode.MinimizeDowntime,
                    "failback-full" => FailbackMode.FullDownload,
                    _ => FailbackMode.AlternateDisk,
                };
                await engine.FailbackAsync(new FailbackRequest
                {
                    Site = site,
                    Name = item,
                    Mode = mode,
                    Destinations = mode == FailbackMode.AlternateDisk
                        ? [.. paths.Select((_, i) => Path.Combine(args[6], string.Create(CultureInfo.InvariantCulture, $"alt-{i}.raw")))]
                        : paths,
                });
                break;
        }

        Say("done " + action);
        return 0;
    }

    private static void Say(string line)
    {
        lock (Console.Out)
        {
            Console.WriteLine(line);
            Console.Out.Flush();
        }
    }
}
