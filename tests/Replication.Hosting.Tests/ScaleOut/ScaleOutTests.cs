using System.Globalization;
using System.Threading.Channels;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.ScaleOut;

/// <summary>
/// Three host processes sharing one PostgreSQL database (Quartz clustered) and one Azure site (Azurite), 12 items written
/// between their cycles; one host SIGKILLed in the middle of a cycle. Its interrupted job and every item go on on the
/// other two; the log of every job run (each host stamps a run's start and end with the wall clock) shows no item run by
/// two hosts at once, and the log of every replica write (each host's page writes and clears with their wall-clock
/// intervals, recorded by the child's WriteLogSite) shows no replica written by two hosts at once.
/// </summary>
public sealed class ScaleOutTests : IDisposable
{
    private const int Items = 12;
    private const long Size = 1 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Three_hosts_share_12_items_and_those_of_a_host_killed_mid_cycle_go_on_on_the_others_never_run_by_two_at_once()
    {
        string azure = Azurite.ConnectionString();
        string container = "scale-" + Guid.NewGuid().ToString("N")[..12];
        await new Azure.Storage.Blobs.BlobContainerClient(azure, container).CreateAsync();
        using var postgres = new PostgresServer();
        string database = postgres.CreateDatabase();
        Dictionary<string, string> disks = Enumerable.Range(0, Items).ToDictionary(i => $"vm{i:00}", i => _dir.File($"vm{i:00}.raw"));
        foreach ((string item, string path) in disks)
        {
            File.WriteAllBytes(path, TestDisks.Content(Size, seed: item.GetHashCode(StringComparison.Ordinal)));
        }

        Channel<(string Host, string Line)> lines = Channel.CreateUnbounded<(string, string)>();
        HostChild Start(string host, string stopAt) =>
            new(_dir.Path, DateTimeOffset.UnixEpoch, stopAt, l => lines.Writer.TryWrite((host, l)), host, database, azure, container);

        // A first (it creates Quartz's tables), then B (which stops for good in its first cycle after shipping disk 0) and C.
        using HostChild a = Start("A", "none");
        await a.WaitForAsync(l => l == "ready", minutes: 3);
        using HostChild b = Start("B", "DeltaCycle/shipped disk 0");
        using HostChild c = Start("C", "none");
        await b.WaitForAsync(l => l == "ready", minutes: 3);
        await c.WaitForAsync(l => l == "ready", minutes: 3);
        foreach ((string item, string path) in disks)
        {
            a.Send($"add {item} 30 {path}");
        }

        var runs = new List<Run>();
        var open = new Dictionary<string, Run>(StringComparer.Ordinal);
        long? killed = null;
        long? writesStopped = null;
        string? interrupted = null;
        bool interruptedDone = false;
        var writes = new Random(7);
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        while (true)
        {
            (string host, string line) = await ReadAsync(lines, bound.Token, () => Transcript(a, b, c));
            string[] words = line.Split(' ');
            if (words is ["step", var jobId, "DeltaCycle", _, "shipped", "disk", "0"] && host == "B" && killed is null)
            {
                b.Kill();
                killed = DateTime.UtcNow.Ticks;
                interrupted = jobId;
                continue;
            }

            if (words is not ["job", var id, _, var item, var state, _, var ticks])
            {
                continue;
            }

            long at = long.Parse(ticks, CultureInfo.InvariantCulture);
            string key = host + "/" + id;
            if (state == "InProgress")
            {
                var run = new Run(host, item, id, at);
                open[key] = run;
                runs.Add(run);
                continue;
            }

            Assert.True(state != "Failed", $"{host} failed {item} ({id}) for good:\n{Transcript(a, b, c)}");
            if (open.Remove(key, out Run? ended))
            {
                ended.End = at;
                ended.State = state;
            }

            interruptedDone |= id == interrupted && state == "Succeeded" && host != "B";

            // The guest writes between the item's cycles (a burst through its tracker, while no host holds it).
            if (writesStopped is null && state == "Succeeded")
            {
                await TryWriteAsync(disks[item], writes.Next());
            }

            if (killed is { } k && writesStopped is null && interruptedDone && disks.Keys.All(i => runs.Any(r => r.Item == i && r.State == "Succeeded" && r.Start > k)))
            {
                writesStopped = DateTime.UtcNow.Ticks;
            }

            if (writesStopped is { } w && disks.Keys.All(i => runs.Any(r => r.Item == i && r.State == "Succeeded" && r.Start > w)))
            {
                break;
            }
        }

        a.Send("exit");
        c.Send("exit");
        Assert.Equal(0, a.WaitForExit());
        Assert.Equal(0, c.WaitForExit());
        long exited = DateTime.UtcNow.Ticks;

        // The runs A and C started before they were told to exit, as they finished (or stopped) while exiting.
        while (lines.Reader.TryRead(out (string Host, string Line) rest))
        {
            if (rest.Line.Split(' ') is ["job", var id, _, var item, var state, _, var ticks])
            {
                string key = rest.Host + "/" + id;
                if (state == "InProgress")
                {
                    runs.Add(open[key] = new Run(rest.Host, item, id, long.Parse(ticks, CultureInfo.InvariantCulture)));
                }
                else if (open.Remove(key, out Run? ended))
                {
                    (ended.End, ended.State) = (long.Parse(ticks, CultureInfo.InvariantCulture), state);
                }
            }
        }

        // A run with no end ended with its process at the latest: B's at the kill, A's and C's (a run the stop cut short)
        // when they had exited.
        foreach (Run run in runs.Where(r => r.End is null))
        {
            run.End = run.Host == "B" ? killed : exited;
        }

        foreach (IGrouping<string, Run> item in runs.GroupBy(r => r.Item))
        {
            Run[] ordered = [.. item.OrderBy(r => r.Start)];
            for (int i = 1; i < ordered.Length; i++)
            {
                Assert.True(ordered[i - 1].End <= ordered[i].Start, $"{item.Key}: {ordered[i - 1]} and {ordered[i]} overlap");
            }
        }

        // The write log: every page write or clear each host made to a replica (recorded around the Azure target's call),
        // with its wall-clock interval; no two hosts wrote one replica in overlapping intervals. A write a host had begun
        // when it died lasts until then; one the target refused (a fence lost) wrote nothing.
        static long Nanoseconds(long ticks) => (ticks - DateTime.UnixEpoch.Ticks) * 100;
        var writesByReplica = new Dictionary<string, List<(string Host, long Start, long End)>>(StringComparer.Ordinal);
        foreach (string host in new[] { "A", "B", "C" })
        {
            var begun = new Dictionary<string, (string Replica, long Start)>(StringComparer.Ordinal);
            foreach (string line in File.ReadAllLines(_dir.File($"writes-{host}.log")))
            {
                string[] words = line.Split(' ');
                if (words is ["S", var begin, _, var item, var disk, _, _, var start])
                {
                    begun[begin] = (item + "/" + disk, long.Parse(start, CultureInfo.InvariantCulture));
                }
                else if (words is [var outcome, { } ended, { } end] && begun.Remove(ended, out var write) && outcome == "E")
                {
                    Add(write.Replica, host, write.Start, long.Parse(end, CultureInfo.InvariantCulture));
                }
            }

            foreach ((string replica, long start) in begun.Values)
            {
                Add(replica, host, start, Nanoseconds(host == "B" ? killed!.Value : exited));
            }
        }

        void Add(string replica, string host, long start, long end)
        {
            if (!writesByReplica.TryGetValue(replica, out var list))
            {
                writesByReplica[replica] = list = [];
            }

            list.Add((host, start, end));
        }

        Assert.Equal(disks.Keys.Select(i => i + "/0").Order(StringComparer.Ordinal), writesByReplica.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["A", "B", "C"], writesByReplica.Values.SelectMany(w => w).Select(w => w.Host).Distinct().Order());
        foreach ((string replica, var replicaWrites) in writesByReplica)
        {
            var latestEnd = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var write in replicaWrites.OrderBy(w => w.Start))
            {
                foreach ((string other, long end) in latestEnd.Where(e => e.Key != write.Host))
                {
                    Assert.True(end <= write.Start, $"{replica}: {write.Host} wrote at {write.Start} ns while {other}'s write lasted until {end} ns");
                }

                latestEnd[write.Host] = Math.Max(latestEnd.GetValueOrDefault(write.Host), write.End);
            }
        }

        // Every host took part, and the killed host's cycle was finished by another host as the same job.
        Assert.Equal(["A", "B", "C"], runs.Select(r => r.Host).Distinct().Order());
        Assert.Contains(runs, r => r.Job == interrupted && r.Host != "B" && r.State == "Succeeded");

        // Each replica's newest point is its disk: the writes stopped before the last cycle of every item.
        var site = new AzureReplicationSite(azure, container);
        var engine = new ReplicationEngine();
        foreach ((string item, string path) in disks)
        {
            RecoveryPointInfo newest = (await engine.ListRecoveryPointsAsync(site, item))[^1];
            IReadOnlyList<IVirtualDisk> replica = await engine.OpenRecoveryPointAsync(site, item, newest.Id);
            try
            {
                byte[] bytes = new byte[Size];
                replica[0].Read(0, bytes);
                Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes), $"{item}: the replica differs from the disk");
            }
            finally
            {
                foreach (IVirtualDisk disk in replica)
                {
                    disk.Dispose();
                }
            }
        }
    }

    private static async Task<(string, string)> ReadAsync(Channel<(string Host, string Line)> lines, CancellationToken bound, Func<string> transcript)
    {
        try
        {
            return await lines.Reader.ReadAsync(bound);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the hosts stopped short of the end (10 minutes of wall time bound the test):\n{transcript()}");
        }
    }

    private static string Transcript(params HostChild[] hosts) =>
        string.Join('\n', hosts.SelectMany((h, i) => h.Lines.TakeLast(40).Select(l => $"{(char)('A' + i)}: {l}")));

    /// <summary>A burst of writes through the disk's tracker; skipped when a host holds the tracker now (its run started meanwhile).</summary>
    private static async Task TryWriteAsync(string path, int seed)
    {
        TrackedDisk disk;
        VirtualDisk raw = VirtualDisk.Open(path);
        try
        {
            disk = TrackedDisk.Open(raw, path + ".logs");
        }
        catch (Core.ReplicationException ex) when (ex.Code == Core.ReplicationErrorCode.Conflict)
        {
            raw.Dispose();
            return;
        }

        await using (disk)
        {
            var random = new Random(seed);
            for (int n = 0; n < 10; n++)
            {
                byte[] data = new byte[random.Next(1, 16) * 512];
                random.NextBytes(data);
                await disk.WriteAsync(random.NextInt64(0, (disk.VirtualSize - data.Length) / 512) * 512, data);
            }

            await disk.FlushAsync();
        }
    }

    public void Dispose() => _dir.Dispose();

    private sealed class Run(string host, string item, string job, long start)
    {
        public string Host { get; } = host;

        public string Item { get; } = item;

        public string Job { get; } = job;

        public long Start { get; } = start;

        public long? End { get; set; }

        public string? State { get; set; }

        public override string ToString() => $"{Host} {Job} [{Start}, {End}] {State}";
    }
}
