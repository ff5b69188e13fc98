using System.Globalization;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Transfer;

namespace Replication.TestChild;

/// <summary>
/// engine &lt;local DIR | azure CONTAINER&gt; &lt;item&gt; &lt;protect|replicate|replicate-break&gt; &lt;writesSeed or -1&gt; &lt;gate step or -&gt; &lt;disk&gt;...:
/// opens the disks through change tracking, makes the seed's writes (flushed; prints "written"), then runs the engine,
/// printing "step NAME" at each durable step and "progress CHECKPOINTED" as copies advance. At the gate step it prints
/// "gate NAME" and waits on standard input, where the parent kills it. Ends with "done ACTION SENT POINT".
/// </summary>
public static class EngineWorkload
{
    public const int Writes = 24;
    public const int MaxWriteLength = 65536;

    /// <summary>Small logs and log files (1 MiB spare), as the tests open the disks too.</summary>
    public static TrackedDiskOptions TrackingOptions { get; } = new() { LogPreallocation = 1 << 20 };

    public static ReplicationPolicy Policy { get; } = new() { RetentionCount = 2, MaxConcurrency = 4, MaxBytesPerSecond = 16 << 20 };

    public static async Task<int> RunAsync(string[] args)
    {
        IReplicationSite site = args[1] == "local"
            ? new LocalReplicationSite(args[2])
            : new AzureReplicationSite(Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")!, args[2]);
        string item = args[3];
        string action = args[4];
        int seed = int.Parse(args[5], CultureInfo.InvariantCulture);
        string gate = args[6];
        string[] paths = args[7..];
        var disks = new List<TrackedDisk>();
        foreach (string path in paths)
        {
            disks.Add(TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs", TrackingOptions));
        }

        if (seed >= 0)
        {
            for (int d = 0; d < disks.Count; d++)
            {
                for (int i = 0; i < Writes; i++)
                {
                    (long offset, byte[] data) = CrashWorkload.Write((seed * 10) + d, i, disks[d].VirtualSize, MaxWriteLength);
                    await disks[d].WriteAsync(offset, data);
                }

                await disks[d].FlushAsync();
            }

            Say("written");
        }

        var engine = new ReplicationEngine(new ReplicationEngineOptions
        {
            Transfer = TransferOptions.Default with { CheckpointInterval = TimeSpan.FromMilliseconds(20), ProgressInterval = TimeSpan.Zero },
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
            Progress = new Reporter(p => Say("progress " + p.CheckpointedUpTo.ToString(CultureInfo.InvariantCulture))),
        });
        // "replicate-break": the operator knows the last writer is gone (an Azure lease outlives a killed process).
        var machine = new ProtectedMachine(site, item, disks) { BreakFences = action.EndsWith("-break", StringComparison.Ordinal) };
        ReplicationRunResult result = action == "protect"
            ? await engine.ProtectAsync(new ProtectionRequest { Machine = machine, Policy = Policy, CreateSite = true })
            : await engine.ReplicateAsync(machine);
        foreach (TrackedDisk disk in disks)
        {
            await disk.DisposeAsync();
        }

        Say($"done {action} {result.BytesSent} {result.RecoveryPoint?.Id}");
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

    private sealed class Reporter(Action<ReplicationProgress> report) : IProgress<ReplicationProgress>
    {
        public void Report(ReplicationProgress value) => report(value);
    }
}
