using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Storage;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Cli;

/// <summary>
/// The hosting verbs as users run them: <c>protect --frequency</c>, <c>run</c> until SIGTERM, <c>jobs</c> with the issue's
/// keys, <c>jobs</c> and <c>status</c> while the site is unreachable, and <c>plan create|show|failover|failback</c>.
/// </summary>
public sealed class HostingVerbTests : IDisposable
{
    private static readonly string[] JobKeys = ["id", "kind", "item", "state", "attempt", "started", "ended", "nextAttempt", "error"];
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Run_hosts_a_protected_item_until_SIGTERM_and_jobs_and_status_answer_from_the_store_while_the_site_is_unreachable()
    {
        string disk = _dir.File("web.raw");
        File.WriteAllBytes(disk, TestDisks.Content(2 << 20, seed: 5));
        string site = _dir.File("site");
        string db = _dir.File("host.db");

        ReplCli.Result tooFast = ReplCli.Run("protect", disk, "--site", site, "--create", "--frequency", "10s", "--db", db);
        Assert.Equal(1, tooFast.ExitCode);
        Assert.Equal("repl: --frequency 10s is shorter than 30 s (Hyper-V's choices: 30s, 5m, 15m).", tooFast.Error.Trim());

        ReplCli.Run("protect", disk, "--site", site, "--create", "--frequency", "30s", "--db", db, "--json").Json();
        JsonElement protectedJob = Assert.Single(ReplCli.Run("jobs", "--site", site, "--db", db, "--json").Json().GetProperty("jobs").EnumerateArray());
        Assert.Equal(JobKeys, protectedJob.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("enableProtection", "web", "succeeded", 1), (protectedJob.GetProperty("kind").GetString(), protectedJob.GetProperty("item").GetString(), protectedJob.GetProperty("state").GetString(), protectedJob.GetProperty("attempt").GetInt32()));
        Assert.Equal(JsonValueKind.Null, protectedJob.GetProperty("error").ValueKind);
        Assert.EndsWith("Z", protectedJob.GetProperty("started").GetString(), StringComparison.Ordinal);

        // The guest writes; the host's first cycle (30 s after it starts) ships it.
        await TestDisks.WriteTrackedAsync(disk, seed: 8);
        using (var run = new RunningRepl(["run", "--site", site, "--db", db]))
        {
            await run.WaitForLineAsync(l => l.StartsWith("repl run: hosting 1 item(s) of ", StringComparison.Ordinal));
            await run.WaitForLineAsync(l => l.Contains("(DeltaCycle) of 'web' succeeded", StringComparison.Ordinal));
            run.Signal(ReplCli.SigTerm);
            Assert.Equal(143, await run.WaitForExitAsync());
            Assert.Contains("repl: interrupted by SIGTERM; the host stopped", run.Transcript, StringComparison.Ordinal);
        }

        Assert.Equal(File.ReadAllBytes(disk), await NewestPointAsync(site, "web"));
        JsonElement[] jobs = [.. ReplCli.Run("jobs", "--site", site, "--db", db, "--json").Json().GetProperty("jobs").EnumerateArray()];
        JsonElement cycle = jobs.First(j => j.GetProperty("kind").GetString() == "deltaCycle");
        Assert.Equal(JobKeys, cycle.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("succeeded", JsonValueKind.Null), (cycle.GetProperty("state").GetString(), cycle.GetProperty("nextAttempt").ValueKind));

        // The site goes away (an unmounted share): jobs and status still answer from the store, and say so.
        Directory.Move(site, site + ".away");
        ReplCli.Result offline = ReplCli.Run("jobs", "--site", site, "--db", db, "--json");
        Assert.Equal(0, offline.ExitCode);
        Assert.Equal(jobs.Length, offline.Json().GetProperty("jobs").GetArrayLength());
        Assert.Contains($"the site {site} is unreachable", offline.Error, StringComparison.Ordinal);
        ReplCli.Result status = ReplCli.Run("status", "--site", site, "--db", db, "--json");
        Assert.Equal(0, status.ExitCode);
        JsonElement statusJson = status.Json();
        Assert.False(statusJson.GetProperty("siteReachable").GetBoolean());
        JsonElement item = Assert.Single(statusJson.GetProperty("items").EnumerateArray());
        Assert.Equal(("web", "protected", "2"), (item.GetProperty("name").GetString(), item.GetProperty("state").GetString(), item.GetProperty("lastRecoveryPoint").GetString()));
        Assert.Contains("unreachable", status.Error, StringComparison.Ordinal);
        Assert.Contains("showing what the host's store", status.Error, StringComparison.Ordinal);

        // Without a store for it, a missing site is still an error, in one line.
        ReplCli.Result none = ReplCli.Run("status", "--site", site, "--db", _dir.File("other.db"));
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("no such directory", none.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_the_host_an_item_is_pinned_to_with_the_site_reachable_and_from_the_store_without_it()
    {
        string disk = _dir.File("db.raw");
        File.WriteAllBytes(disk, TestDisks.Content(1 << 20, seed: 3));
        string site = _dir.File("site");
        string db = _dir.File("host.db");
        Assert.Equal(0, ReplCli.Run("protect", disk, "--site", site, "--create", "--db", db).ExitCode);

        // Without a pin the host's columns say so; then an operator pins the item to host-b (through the store's API).
        JsonElement before = Assert.Single(ReplCli.Run("status", "--site", site, "--db", db, "--json").Json().GetProperty("items").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("host").GetProperty("pinnedHost").ValueKind);
        await using (SqlReplicationStore store = SqlReplicationStore.Sqlite(db))
        {
            await store.InitializeAsync();
            HostedItem item = (await store.GetItemAsync("db"))!;
            item.PinnedHost = "host-b";
            await store.SaveItemAsync(item);
        }

        ReplCli.Result reachable = ReplCli.Run("status", "--site", site, "--db", db, "--json");
        Assert.Equal(0, reachable.ExitCode);
        JsonElement host = Assert.Single(reachable.Json().GetProperty("items").EnumerateArray()).GetProperty("host");
        Assert.Equal(("host-b", "healthy"), (host.GetProperty("pinnedHost").GetString(), host.GetProperty("state").GetString()));
        string table = ReplCli.Run("status", "--site", site, "--db", db).Output;
        Assert.Matches(@"(?m)^NAME\s+STATE\s+LAST POINT\s+RPO\s+PENDING LOGS\s+RESYNC\s+HOST STATE\s+PINNED TO$", table);
        Assert.Matches(@"(?m)^db\s+protected\s+.*\s+host-b$", table);

        Directory.Move(site, site + ".away");
        JsonElement offline = Assert.Single(ReplCli.Run("status", "--site", site, "--db", db, "--json").Json().GetProperty("items").EnumerateArray());
        Assert.Equal("host-b", offline.GetProperty("pinnedHost").GetString());
        Assert.Contains("host-b", ReplCli.Run("status", "--site", site, "--db", db).Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Plans_are_created_shown_failed_over_and_failed_back_from_the_command_line()
    {
        string site = _dir.File("site");
        string db = _dir.File("host.db");
        string log = _dir.File("actions.log");
        var disks = new Dictionary<string, string>();
        foreach ((string name, int seed) in new[] { ("db", 1), ("app", 2) })
        {
            disks[name] = _dir.File(name + ".raw");
            File.WriteAllBytes(disks[name], TestDisks.Content(2 << 20, seed));
            ReplCli.Run("protect", disks[name], "--site", site, "--create", "--frequency", "5m", "--db", db, "--json").Json();
        }

        string[] at = ["--site", site, "--db", db];
        ReplCli.Result unknown = ReplCli.Run(["plan", "create", "bad", "--group", "db,nobody", .. at]);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("Plan 'bad' names items the host's store does not have: nobody", unknown.Error, StringComparison.Ordinal);

        string action = $"echo \"$REPL_PLAN_OPERATION $REPL_PLAN_GROUP $REPL_PLAN_ITEMS\" >> '{log}'";
        ReplCli.Run(["plan", "create", "shop", "--group", "db", "--group", "app", "--post", "1=" + action, "--pre", "2=" + action, .. at, "--json"]).Json();
        JsonElement shown = ReplCli.Run(["plan", "show", "shop", .. at, "--json"]).Json();
        Assert.Equal("shop", shown.GetProperty("name").GetString());
        Assert.Equal(["db", "app"], shown.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("items")[0].GetString()));
        Assert.Equal(action, shown.GetProperty("groups")[0].GetProperty("post")[0].GetString());

        string dr = _dir.File("dr");
        AssertRun(ReplCli.Run(["plan", "failover", "shop", "--kind", "test", "--out", _dir.File("test"), .. at, "--json"]), "testFailover");
        Assert.True(File.Exists(Path.Combine(_dir.File("test"), "db", "db-disk-0.vhdx")));
        AssertRun(ReplCli.Run(["plan", "failover", "shop", "--kind", "cleanup", "--out", _dir.File("test"), .. at, "--json"]), "testFailoverCleanup");
        Assert.False(File.Exists(Path.Combine(_dir.File("test"), "db", "db-disk-0.vhdx")));
        AssertRun(ReplCli.Run(["plan", "failover", "shop", "--kind", "planned", "--out", dr, "--shutdown", $"echo \"shutdown $REPL_ITEM\" >> '{log}'", .. at, "--json"]), "plannedFailover");
        foreach ((string name, string path) in disks)
        {
            Assert.Equal(File.ReadAllBytes(path), TestDisks.ReadWhole(Path.Combine(dr, name, name + "-disk-0.vhdx")));
        }

        AssertRun(ReplCli.Run(["plan", "failover", "shop", "--kind", "commit", .. at, "--json"]), "commit");

        // The recovered machines write; failback brings it back, and --reverse protects them again.
        foreach (string name in disks.Keys)
        {
            using VirtualDisk recovered = VirtualDisk.Open(Path.Combine(dr, name, name + "-disk-0.vhdx"));
            recovered.Write(1 << 20, Enumerable.Range(0, 8192).Select(i => (byte)(i + name.Length)).ToArray());
        }

        JsonElement back = ReplCli.Run(["plan", "failback", "shop", "--mode", "full-download", "--reverse", .. at, "--json"]).Json();
        Assert.Equal(["failback", "reverseReplication"], back.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("operation").GetString()));
        foreach ((string name, string path) in disks)
        {
            Assert.Equal(TestDisks.ReadWhole(Path.Combine(dr, name, name + "-disk-0.vhdx")), File.ReadAllBytes(path));
        }

        string[] lines = File.ReadAllLines(log);
        Assert.Equal(["testFailover 1 db", "testFailover 2 app"], lines[..2]);
        Assert.Contains("shutdown db", lines);
        Assert.Contains("reverseReplication 2 app", lines);
        JsonElement[] jobs = [.. ReplCli.Run(["jobs", .. at, "--name", "shop", "--json"]).Json().GetProperty("jobs").EnumerateArray()];
        Assert.Equal(6, jobs.Length);
        Assert.All(jobs, j => Assert.Equal(("recoveryPlan", "succeeded"), (j.GetProperty("kind").GetString(), j.GetProperty("state").GetString())));

        // A failing command stops the plan after its group, in one line naming it; the item jobs of the next group never ran.
        ReplCli.Run(["plan", "create", "broken", "--group", "db", "--group", "app", "--post", "1=echo the load balancer refused >&2; exit 3", .. at, "--json"]).Json();
        ReplCli.Result failed = ReplCli.Run(["plan", "failover", "broken", "--kind", "test", "--out", _dir.File("test2"), .. at]);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("group 1: post action 'echo the load balancer refused >&2; exit 3' failed: 'echo the load balancer refused >&2; exit 3' exited with 3: the load balancer refused", failed.Error, StringComparison.Ordinal);
        Assert.Contains("Not run: group 2.", failed.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir.File("test2"), "app")));
    }

    private static void AssertRun(ReplCli.Result result, string operation)
    {
        JsonElement json = result.Json();
        JsonElement run = Assert.Single(json.GetProperty("runs").EnumerateArray());
        Assert.Equal(operation, run.GetProperty("operation").GetString());
        Assert.True(run.GetProperty("succeeded").GetBoolean(), json.ToString());
    }

    private static async Task<byte[]> NewestPointAsync(string site, string item)
    {
        var local = new LocalReplicationSite(site);
        var engine = new ReplicationEngine();
        RecoveryPointInfo newest = (await engine.ListRecoveryPointsAsync(local, item))[^1];
        IReadOnlyList<IVirtualDisk> disks = await engine.OpenRecoveryPointAsync(local, item, newest.Id);
        try
        {
            byte[] bytes = new byte[disks[0].VirtualSize];
            disks[0].Read(0, bytes);
            return bytes;
        }
        finally
        {
            foreach (IVirtualDisk disk in disks)
            {
                disk.Dispose();
            }
        }
    }

    public void Dispose() => _dir.Dispose();
}
