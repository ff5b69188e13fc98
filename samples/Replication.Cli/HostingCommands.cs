using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;
using Replication.Hosting.Storage;

namespace Replication.Cli;

/// <summary>
/// The hosting verbs: <c>run</c> (the replication service in the foreground), <c>jobs</c> (what it did, from its store,
/// whether or not the site answers) and <c>plan</c> (recovery plans: create, show, failover, failback).
/// </summary>
internal static class HostingCommands
{
    public static IEnumerable<Command> Build() => [Run(), Jobs(), Plan()];

    /// <summary>The status of every item as the host's store last recorded it (for <c>repl status</c> when the site does not answer).</summary>
    public static async Task<bool> StatusFromStoreAsync(
        ParseResult parse, HostStoreOptions stores, IReplicationSite site, string? only, string unreachable, CancellationToken cancellationToken)
    {
        await using SqlReplicationStore? store = await stores.OpenExistingAsync(parse, site.Location, cancellationToken).ConfigureAwait(false);
        if (store is null)
        {
            return false;
        }

        await Console.Error.WriteLineAsync($"repl: the site {site.Location} is unreachable ({unreachable}); showing what the host's store ({store.Location}) last recorded.").ConfigureAwait(false);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        List<JsonReport> reports = [.. (await store.ListItemsAsync(cancellationToken).ConfigureAwait(false)).Where(i => only is null || i.Name == only).Select(i => new JsonReport()
            .Add("name", i.Name)
            .Add("state", i.ProtectionState is { } s ? Camel(s.ToString()) : null)
            .Add("hostState", Camel(i.State.ToString()))
            .Add("lastRecoveryPoint", i.LastRecoveryPointId)
            .Add("lastRecoveryPointTime", Time(i.LastRecoveryPointAt))
            .Add("rpoSeconds", i.LastRecoveryPointAt is { } at ? Math.Round((now - at).TotalSeconds, 1) : null)
            .Add("nextAttempt", Time(i.NextAttempt))
            .Add("pinnedHost", i.PinnedHost)
            .Add("error", i.CriticalReason))];
        if (parse.GetValue(CliCommand.Json))
        {
            new JsonReport().Add("items", reports).Add("siteReachable", false).Write(Console.Out, json: true);
            return true;
        }

        TextTable.Write(
            Console.Out,
            ["NAME", "STATE", "HOST STATE", "PINNED TO", "LAST POINT", "RPO"],
            [.. reports.Select(r => new[] { r.Get("name") ?? "-", r.Get("state") ?? "-", r.Get("hostState") ?? "-", r.Get("pinnedHost") ?? "-", r.Get("lastRecoveryPoint") ?? "-", r.Get("rpoSeconds") is { } s ? s + " s" : "-" })]);
        return true;
    }

    /// <summary>
    /// What the host's store says of each item (its hosting state, the host it is pinned to, the next retry and why it is
    /// critical) for <c>repl status</c> with the site reachable; nothing when no store was made for this site.
    /// </summary>
    public static async Task<Dictionary<string, JsonReport>> HostStatusAsync(ParseResult parse, HostStoreOptions stores, string siteLocation, CancellationToken cancellationToken)
    {
        var hosted = new Dictionary<string, JsonReport>(StringComparer.Ordinal);
        await using SqlReplicationStore? store = await stores.OpenExistingAsync(parse, siteLocation, cancellationToken).ConfigureAwait(false);
        if (store is not null)
        {
            foreach (HostedItem item in await store.ListItemsAsync(cancellationToken).ConfigureAwait(false))
            {
                hosted[item.Name] = new JsonReport()
                    .Add("state", Camel(item.State.ToString()))
                    .Add("pinnedHost", item.PinnedHost)
                    .Add("nextAttempt", Time(item.NextAttempt))
                    .Add("criticalReason", item.CriticalReason);
            }
        }

        return hosted;
    }

    private static Command Run()
    {
        var site = new SiteOptions();
        var stores = new HostStoreOptions();
        var hostId = new Option<string?>("--host-id") { Description = "This host's name among those sharing a PostgreSQL database (default: the machine's name)." };
        var maxItems = new Option<int>("--max-items") { Description = "Items replicating at once (1-256).", DefaultValueFactory = _ => 8 };
        var command = new Command(
            "run",
            "Host the replication service in the foreground until SIGINT or SIGTERM: each item of the host's store replicates at its copy frequency, retries on the documented schedule, resyncs in its window; a line per job. Items of the site not yet in the store are added with the default policy.")
        {
            hostId, maxItems,
        };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            string? sqlite = stores.SqlitePath(parse, target.Location);
            if (sqlite is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(sqlite)!);
            }

            await using (SqlReplicationStore store = await stores.OpenAsync(parse, target.Location, cancellationToken).ConfigureAwait(false))
            {
                await AdoptSiteItemsAsync(store, target, cancellationToken).ConfigureAwait(false);
            }

            HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddLogging(l => l
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ ";
                    o.UseUtcTimestamp = true;
                })
                .SetMinimumLevel(LogLevel.Warning)
                .AddFilter("Replication", LogLevel.Information));

            // The program's one SIGINT/SIGTERM handler cancels this verb; the host must not take the signals for itself.
            builder.Services.Replace(ServiceDescriptor.Singleton<IHostLifetime, ForegroundLifetime>());
            builder.Services.AddSingleton(target);
            builder.Services.AddReplication(o =>
            {
                o.HostId = parse.GetValue(hostId) ?? Environment.MachineName;
                o.SqlitePath = sqlite;
                o.PostgresConnectionString = stores.Postgres(parse);
                o.MaxConcurrentItems = parse.GetValue(maxItems);
            });
            using IHost host = builder.Build();
            CliCommand.ResumeHint = "the host stopped; a job it was running resumes at its checkpoint when 'repl run' starts again";
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            IReadOnlyList<HostedItem> items = await host.Services.GetRequiredService<ReplicationService>().ListItemsAsync(CancellationToken.None).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"repl run: hosting {items.Count} item(s) of {target.Location}, store {sqlite ?? "PostgreSQL"}; stop with Ctrl-C or SIGTERM.").ConfigureAwait(false);
            await Console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        });
        return command;
    }

    private static Command Jobs()
    {
        var site = new SiteOptions();
        var stores = new HostStoreOptions();
        var item = new Option<string?>("--name") { Description = "Only this item's jobs (or this plan's)." };
        var limit = new Option<int>("--limit") { Description = "At most this many, newest first (1-10000).", DefaultValueFactory = _ => 100 };
        var command = new Command("jobs", "List the host's jobs, newest first, from its store: what each did, its attempts, when it runs again and why it failed. Works while the site is unreachable (and says so).")
        {
            item, limit,
        };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse, mayCreate: true);
            await using SqlReplicationStore store = await stores.OpenExistingAsync(parse, target.Location, cancellationToken).ConfigureAwait(false)
                ?? throw new ArgumentException($"{stores.SqlitePath(parse, target.Location)}: no host store for {target.Location} (protect with --frequency, or run 'repl run', first; or give --db).");
            IReadOnlyList<JobRecord> jobs = await store.ListJobsAsync(parse.GetValue(item), Math.Clamp(parse.GetValue(limit), 1, 10_000), cancellationToken).ConfigureAwait(false);
            if (await HostStoreOptions.UnreachableAsync(() => site.Create(parse), cancellationToken).ConfigureAwait(false) is { } why)
            {
                await Console.Error.WriteLineAsync($"repl: the site {target.Location} is unreachable ({why}); the jobs are as the host's store last recorded them.").ConfigureAwait(false);
            }

            List<JsonReport> reports = [.. jobs.Select(j => new JsonReport()
                .Add("id", j.Id)
                .Add("kind", Camel(j.Kind.ToString()))
                .Add("item", j.Item)
                .Add("state", Camel(j.State.ToString()))
                .Add("attempt", j.Attempt)
                .Add("started", Time(j.Started))
                .Add("ended", Time(j.Ended))
                .Add("nextAttempt", Time(j.NextAttempt))
                .Add("error", j.Error is { } e ? new JsonReport().Add("category", e.Category).Add("code", e.Code.ToString()).Add("message", e.Message) : null))];
            if (parse.GetValue(CliCommand.Json))
            {
                new JsonReport().Add("jobs", reports).Write(Console.Out, json: true);
                return;
            }

            TextTable.Write(
                Console.Out,
                ["STARTED (UTC)", "KIND", "ITEM", "STATE", "ATTEMPT", "NEXT ATTEMPT", "ERROR"],
                [.. reports.Select(r => new[]
                {
                    r.Get("started") ?? "-", r.Get("kind") ?? "-", r.Get("item") ?? "-", r.Get("state") ?? "-", r.Get("attempt") ?? "-", r.Get("nextAttempt") ?? "-",
                    jobs.First(j => j.Id == r.Get("id")).Error?.Message ?? "-",
                })]);
        });
        return command;
    }

    private static Command Plan()
    {
        var command = new Command("plan", "Recovery plans: named, ordered groups of items that fail over together (a group's items in parallel, the groups in order), with commands run before and after each group.");
        command.Subcommands.Add(PlanCreate());
        command.Subcommands.Add(PlanShow());
        command.Subcommands.Add(PlanRun("failover", "Run the plan as a failover (test, planned or unplanned), a test failover's cleanup, or a commit."));
        command.Subcommands.Add(PlanRun("failback", "Fail the plan's committed items back to their primary disks, and with --reverse protect them again."));
        return command;
    }

    private static Command PlanCreate()
    {
        var site = new SiteOptions();
        var stores = new HostStoreOptions();
        var name = new Argument<string>("name") { Description = "The plan's name." };
        var groups = new Option<string[]>("--group") { Description = "A group's items, comma-separated, in the order the groups run (repeatable).", Required = true };
        var pre = new Option<string[]>("--pre") { Description = "A command run before a group: N=COMMAND (group from 1; repeatable, in order)." };
        var post = new Option<string[]>("--post") { Description = "A command run after a group: N=COMMAND (group from 1; repeatable, in order)." };
        var command = new Command("create", "Create a recovery plan (or replace the one of that name). Each pre/post command runs with /bin/sh -c, with REPL_PLAN, REPL_PLAN_GROUP, REPL_PLAN_OPERATION and REPL_PLAN_ITEMS set; a non-zero exit fails its group.")
        {
            name, groups, pre, post,
        };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            string[] groupItems = parse.GetValue(groups)!;
            var plan = new RecoveryPlan { Name = parse.GetValue(name)!, Groups = [.. groupItems.Select(g => new RecoveryPlanGroup { Items = [.. g.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)] })] };
            foreach ((string option, bool isPre) in new[] { ("--pre", true), ("--post", false) })
            {
                foreach (string value in parse.GetValue(isPre ? pre : post) ?? [])
                {
                    int equals = value.IndexOf('=', StringComparison.Ordinal);
                    if (equals <= 0 || !int.TryParse(value.AsSpan(0, equals), NumberStyles.None, CultureInfo.InvariantCulture, out int group) || group < 1 || group > plan.Groups.Count)
                    {
                        throw new ArgumentException($"{option} takes N=COMMAND with N a group from 1 to {plan.Groups.Count}, not '{value}'.");
                    }

                    (isPre ? plan.Groups[group - 1].PreActions : plan.Groups[group - 1].PostActions).Add(value[(equals + 1)..]);
                }
            }

            if (plan.Validate() is [_, ..] problems)
            {
                throw new ArgumentException(string.Join(" ", problems));
            }

            await using SqlReplicationStore store = await stores.OpenAsync(parse, target.Location, cancellationToken).ConfigureAwait(false);
            string[] missing = [.. await MissingItemsAsync(store, plan, cancellationToken).ConfigureAwait(false)];
            if (missing.Length > 0)
            {
                throw new ArgumentException($"Plan '{plan.Name}' names items the host's store does not have: {string.Join(", ", missing)} (protect them with --frequency, or run 'repl run' once).");
            }

            await store.SavePlanAsync(plan, cancellationToken).ConfigureAwait(false);
            Describe(plan).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command PlanShow()
    {
        var site = new SiteOptions();
        var stores = new HostStoreOptions();
        var name = new Argument<string?>("name") { Description = "The plan (default: list every plan).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("show", "Show a recovery plan's groups, items and commands, or list the plans.") { name };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse, mayCreate: true);
            await using SqlReplicationStore store = await stores.OpenAsync(parse, target.Location, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(name) is { } one)
            {
                RecoveryPlan plan = await store.GetPlanAsync(one, cancellationToken).ConfigureAwait(false)
                    ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"There is no recovery plan '{one}'.");
                Describe(plan).Write(Console.Out, parse.GetValue(CliCommand.Json));
                return;
            }

            new JsonReport().Add("plans", (await store.ListPlansAsync(cancellationToken).ConfigureAwait(false)).Select(Describe).ToList()).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command PlanRun(string verb, string description)
    {
        var site = new SiteOptions();
        var stores = new HostStoreOptions();
        var name = new Argument<string>("name") { Description = "The plan." };
        var kind = new Option<string>("--kind") { Description = "test, planned, unplanned, cleanup (of a test failover) or commit.", DefaultValueFactory = _ => "test" };
        var output = new Option<string?>("--out") { Description = "Where recovered machines go: a folder per item (failover and cleanup)." };
        var point = new Option<string?>("--point") { Description = "The recovery point of a test or unplanned failover (default: each item's newest)." };
        var shutdown = new Option<string?>("--shutdown") { Description = "A command that shuts an item's source down before a planned failover (REPL_ITEM set)." };
        var mode = new Option<string>("--mode") { Description = "How a failback copies: minimize-downtime or full-download.", DefaultValueFactory = _ => "minimize-downtime" };
        var stop = new Option<string?>("--stop") { Description = "A command that stops an item's recovered machine before failback copies it (REPL_ITEM set)." };
        var reverse = new Option<bool>("--reverse") { Description = "After failback, protect the items again (reverse replication)." };
        var keepGoing = new Option<bool>("--continue-on-failure") { Description = "Run every group even when an item or command fails (default: stop after the failed group)." };
        var command = new Command(verb, description) { name, keepGoing };
        if (verb == "failover")
        {
            command.Options.Add(kind);
            command.Options.Add(output);
            command.Options.Add(point);
            command.Options.Add(shutdown);
        }
        else
        {
            command.Options.Add(mode);
            command.Options.Add(stop);
            command.Options.Add(reverse);
        }

        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            await using SqlReplicationStore store = await stores.OpenAsync(parse, target.Location, cancellationToken).ConfigureAwait(false);
            RecoveryPlan plan = await store.GetPlanAsync(parse.GetValue(name)!, cancellationToken).ConfigureAwait(false)
                ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"There is no recovery plan '{parse.GetValue(name)}'.");
            List<RecoveryPlanOperation> operations = verb == "failover"
                ? [parse.GetValue(kind) switch
                {
                    "test" => RecoveryPlanOperation.TestFailover,
                    "planned" => RecoveryPlanOperation.PlannedFailover,
                    "unplanned" => RecoveryPlanOperation.UnplannedFailover,
                    "cleanup" => RecoveryPlanOperation.TestFailoverCleanup,
                    "commit" => RecoveryPlanOperation.Commit,
                    var other => throw new ArgumentException($"--kind takes test, planned, unplanned, cleanup or commit, not '{other}'."),
                }]
                : [RecoveryPlanOperation.Failback, .. verb == "failback" && parse.GetValue(reverse) ? [RecoveryPlanOperation.ReverseReplication] : Array.Empty<RecoveryPlanOperation>()];
            FailbackMode failbackMode = verb == "failover" ? FailbackMode.MinimizeDowntime : parse.GetValue(mode) switch
            {
                "minimize-downtime" => FailbackMode.MinimizeDowntime,
                "full-download" => FailbackMode.FullDownload,
                var other => throw new ArgumentException($"--mode takes minimize-downtime or full-download, not '{other}'."),
            };
            string? outputDirectory = verb == "failover" ? parse.GetValue(output) : null;
            if (verb == "failover" && operations[0] is not RecoveryPlanOperation.Commit && outputDirectory is null)
            {
                throw new ArgumentException("--out is needed: the folder the recovered machines go to (a folder per item).");
            }

            ServiceCollection services = new();
            services.AddLogging();
            services.AddSingleton(target);
            services.AddReplication(o =>
            {
                o.SqlitePath = stores.SqlitePath(parse, target.Location);
                o.PostgresConnectionString = stores.Postgres(parse);
            });

            await using ServiceProvider provider = services.BuildServiceProvider();
            RecoveryPlanRunner runner = provider.GetRequiredService<RecoveryPlanRunner>();
            var reports = new List<RecoveryPlanReport>();
            foreach (RecoveryPlanOperation operation in operations)
            {
                RecoveryPlanReport report = await runner.RunAsync(plan.Name, new RecoveryPlanRunOptions
                {
                    Operation = operation,
                    ContinueOnFailure = parse.GetValue(keepGoing),
                    OutputDirectory = outputDirectory is { } o ? Path.GetFullPath(o) : null,
                    PointId = verb == "failover" ? parse.GetValue(point) : null,
                    FailbackMode = failbackMode,
                    ShutdownSource = verb == "failover" && parse.GetValue(shutdown) is { } s ? (item, ct) => new ValueTask(RunCommandAsync(s, new() { ["REPL_ITEM"] = item }, ct)) : null,
                    StopRecovered = verb == "failback" && parse.GetValue(stop) is { } st ? (item, ct) => new ValueTask(RunCommandAsync(st, new() { ["REPL_ITEM"] = item }, ct)) : null,
                    Actions = plan.Groups.SelectMany(g => g.PreActions.Concat(g.PostActions)).Distinct(StringComparer.Ordinal).ToDictionary(
                        a => a,
                        a => (Func<RecoveryPlanActionContext, CancellationToken, Task>)((c, ct) => RunCommandAsync(a, new()
                        {
                            ["REPL_PLAN"] = c.Plan,
                            ["REPL_PLAN_GROUP"] = c.Group.ToString(CultureInfo.InvariantCulture),
                            ["REPL_PLAN_OPERATION"] = Camel(c.Operation.ToString()),
                            ["REPL_PLAN_ITEMS"] = string.Join(',', c.Items),
                        }, ct)),
                        StringComparer.Ordinal),
                }, cancellationToken).ConfigureAwait(false);
                reports.Add(report);
                if (!report.Succeeded)
                {
                    break;
                }
            }

            new JsonReport()
                .Add("plan", plan.Name)
                .Add("runs", reports.Select(r => new JsonReport()
                    .Add("operation", Camel(r.Operation.ToString()))
                    .Add("job", r.JobId)
                    .Add("succeeded", r.Succeeded)
                    .Add("groups", r.Groups.Select(g => new JsonReport()
                        .Add("group", g.Group)
                        .Add("state", Camel(g.State.ToString()))
                        .Add("items", g.Items.Select(i => new JsonReport().Add("item", i.Item).Add("state", Camel(i.State.ToString())).Add("job", i.JobId).Add("error", i.Error?.Message)).ToList())).ToList())
                    .Add("failures", r.Failures.ToArray())).ToList())
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
            if (reports[^1] is { Succeeded: false } failed)
            {
                throw new ReplicationException(ReplicationErrorCode.Unknown, false, failed.Describe());
            }
        });
        return command;
    }

    /// <summary>Items of the site the store does not hold yet, added with the default policy (as already protected).</summary>
    private static async Task AdoptSiteItemsAsync(SqlReplicationStore store, IReplicationSite site, CancellationToken cancellationToken)
    {
        var engine = new ReplicationEngine();
        await foreach (string name in engine.ListItemsAsync(site, cancellationToken).ConfigureAwait(false))
        {
            if (await store.GetItemAsync(name, cancellationToken).ConfigureAwait(false) is not null)
            {
                continue;
            }

            ItemStatus status = await engine.GetStatusAsync(site, name, cancellationToken: cancellationToken).ConfigureAwait(false);
            await store.SaveItemAsync(new HostedItem
            {
                Name = name,
                Disks = [.. status.Disks.Select(d => d.SourcePath)],
                Policy = new ItemPolicy(),
                ProtectionState = status.State,
                LastRecoveryPointId = status.LastRecoveryPoint?.Id,
                LastRecoveryPointAt = status.LastRecoveryPoint?.CreatedAt,
                Updated = DateTimeOffset.UtcNow,
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<IEnumerable<string>> MissingItemsAsync(SqlReplicationStore store, RecoveryPlan plan, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach (string item in plan.Groups.SelectMany(g => g.Items))
        {
            if (await store.GetItemAsync(item, cancellationToken).ConfigureAwait(false) is null)
            {
                missing.Add(item);
            }
        }

        return missing;
    }

    private static JsonReport Describe(RecoveryPlan plan) => new JsonReport()
        .Add("name", plan.Name)
        .Add("groups", plan.Groups.Select(g => new JsonReport().Add("items", g.Items.ToArray()).Add("pre", g.PreActions.ToArray()).Add("post", g.PostActions.ToArray())).ToList());

    /// <summary>Runs a plan's command with /bin/sh -c; a non-zero exit fails it, naming the command, its exit code and its last line of error output.</summary>
    private static async Task RunCommandAsync(string commandLine, Dictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(commandLine);
        foreach ((string key, string value) in environment)
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start) ?? throw new IOException($"'{commandLine}' did not start.");
        string errors = await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            string last = errors.TrimEnd().Split('\n')[^1];
            throw new IOException($"'{commandLine}' exited with {process.ExitCode}{(last.Length > 0 ? ": " + last : "")}");
        }
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    private static string? Time(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Starts and stops with the verb: no signal handling of its own (the program's one handler cancels the verb).</summary>
    private sealed class ForegroundLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
