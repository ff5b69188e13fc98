using System.CommandLine;
using System.Globalization;
using Replication.Core;
using Replication.Core.ChangeTracking;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.Cli;

/// <summary>
/// The continuous-replication verbs: <c>protect</c>, <c>replicate</c>, <c>status</c>, <c>points</c>, <c>resync</c>,
/// <c>unprotect</c>. Each disk is tracked in the folder <c>DISK.logs</c> beside it (as <c>repl nbd serve</c> tracks it).
/// </summary>
internal static class ProtectionCommands
{
    public static IEnumerable<Command> Build() => [Protect(), Replicate(), Status(), Points(), Resync(), Unprotect()];

    private static Command Protect()
    {
        var disks = new Argument<string[]>("disk") { Description = "The machine's disks (raw, VHD, VHDX), in order.", Arity = ArgumentArity.OneOrMore };
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item's name at the site (default: the first disk's file name without extension)." };
        var create = new Option<bool>("--create") { Description = "Create the site (its directory or container) when it does not exist." };
        var networkMap = new Option<string[]>("--network-map") { Description = "Map a source network to a recovery network at failover: SRC=DST (repeatable).", AllowMultipleArgumentsPerToken = false };
        var nic = new Option<string[]>("--nic") { Description = "A network adapter of the machine and the network it is on: NAME=NETWORK (repeatable)." };
        var cpus = new Option<int>("--cpus") { Description = "Virtual processors of the machine.", DefaultValueFactory = _ => 1 };
        Option<long> memory = CliCommand.SizeOption("--memory", "Memory of the machine (default 1GiB).", required: false);
        var retentionCount = new Option<int>("--retention-count") { Description = "Recovery points kept (default 24).", DefaultValueFactory = _ => 24 };
        var retention = new Option<string?>("--retention") { Description = "Oldest recovery point kept (default 24h; 30m, 7d…)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight per disk transfer (1-64).", DefaultValueFactory = _ => 8 };
        Option<long> maxRate = CliCommand.SizeOption("--max-bytes-per-second", "Bandwidth limit of the data sent (for example 20MiB).", required: false);
        var frequency = new Option<string?>("--frequency") { Description = "Copy frequency when 'repl run' hosts the item: 30s, 5m, 15m or any duration of at least 30 s (records the item in the host's store)." };
        var stores = new HostStoreOptions();
        var command = new Command("protect", "Enable protection of a machine's disks at a site and run its initial replication: the disks are copied while they may be written, then the writes made meanwhile are applied and the first recovery point is made.")
        {
            disks, name, create, networkMap, nic, cpus, memory, retentionCount, retention, concurrency, maxRate, frequency,
        };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            string[] paths = [.. parse.GetValue(disks)!.Select(Path.GetFullPath)];
            string item = parse.GetValue(name) ?? ItemNames.FromDiskPath(paths[0]);
            ItemNames.Check(item);
            var policy = new ReplicationPolicy
            {
                RetentionCount = parse.GetValue(retentionCount),
                RetentionPeriod = parse.GetValue(retention) is { } r ? Durations.Parse(r) : TimeSpan.FromHours(24),
                MaxConcurrency = parse.GetValue(concurrency),
                MaxBytesPerSecond = parse.GetValue(maxRate) is > 0 and var rate ? rate : null,
            };
            var description = new MachineDescription
            {
                Name = item,
                CpuCount = parse.GetValue(cpus),
                MemoryBytes = parse.GetValue(memory) is > 0 and var bytes ? bytes : 1L << 30,
                NetworkAdapters = [.. Pairs.Parse(parse.GetValue(nic), "--nic").Select(p => new NetworkAdapter { Name = p.Key, Network = p.Value })],
            };
            IReplicationSite target = site.Create(parse, mayCreate: true);
            TimeSpan? copyFrequency = parse.GetValue(frequency) is { } f ? HostStoreOptions.ParseFrequency(f) : null;
            DateTimeOffset started = DateTimeOffset.UtcNow;
            await using TrackedDisks opened = TrackedDisks.Open(paths);
            var engine = ReportingSynchronizer.Engine("protect");
            ReplicationRunResult result = await engine.ProtectAsync(new ProtectionRequest
            {
                Machine = new ProtectedMachine(target, item, opened.Disks),
                Description = description,
                NetworkMapping = Pairs.Parse(parse.GetValue(networkMap), "--network-map"),
                Policy = policy,
                CreateSite = parse.GetValue(create),
            }, cancellationToken).ConfigureAwait(false);
            if (copyFrequency is not null || stores.Given(parse))
            {
                await stores.RecordProtectedAsync(parse, target, item, paths, copyFrequency, result, started, cancellationToken).ConfigureAwait(false);
            }
            new JsonReport()
                .Add("name", item)
                .Add("site", target.Location)
                .Add("state", Name(result.State))
                .Add("disks", paths)
                .Add("bytesSent", result.BytesSent)
                .Add("recoveryPoint", result.RecoveryPoint?.Id)
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Replicate()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "Replicate this item only (default: every item of the site)." };
        var command = new Command("replicate", "Run what each item needs now: a delta cycle (rotate, ship and apply the logs, make a recovery point), its initial replication (resumed), or a resync when its disks were changed outside tracking or their chain broke.")
        {
            name,
        };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = ReportingSynchronizer.Engine("replicate");
            List<string> items = parse.GetValue(name) is { } one ? [one] : await SiteOptions.ToListAsync(engine.ListItemsAsync(target, cancellationToken)).ConfigureAwait(false);
            var reports = new List<JsonReport>();
            ReplicationException? failure = null;
            foreach (string item in items)
            {
                try
                {
                    ItemStatus status = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
                    await using TrackedDisks opened = TrackedDisks.Open([.. status.Disks.Select(d => d.SourcePath)]);
                    ReplicationRunResult result = await engine.ReplicateAsync(new ProtectedMachine(target, item, opened.Disks), cancellationToken).ConfigureAwait(false);
                    reports.Add(new JsonReport()
                        .Add("name", item)
                        .Add("action", ActionName(result.Action))
                        .Add("state", Name(result.State))
                        .Add("bytesSent", result.BytesSent)
                        .Add("coalescedBytes", result.CoalescedBytes)
                        .Add("loggedBytes", result.LoggedBytes)
                        .Add("recoveryPoint", result.RecoveryPoint?.Id)
                        .Add("error", null));
                }
                catch (ReplicationException ex) when (items.Count > 1)
                {
                    // One item's failure does not stop the others; it is reported, and the exit code says so.
                    failure ??= ex;
                    reports.Add(new JsonReport().Add("name", item).Add("action", null).Add("error", ex.Message.ReplaceLineEndings(" ")));
                }
            }

            new JsonReport().Add("items", reports).Write(Console.Out, parse.GetValue(CliCommand.Json));
            if (failure is not null)
            {
                throw failure;
            }
        });
        return command;
    }

    private static Command Status()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "Show this item only." };
        var stores = new HostStoreOptions();
        var command = new Command("status", "Show each item's state, newest recovery point, recovery point age (RPO), logs waiting at the primary and whether a resync is required. When the site does not answer, what the host's store last recorded (and says so).")
        {
            name,
        };
        site.AddTo(command);
        stores.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            if (await HostStoreOptions.UnreachableAsync(() => site.Create(parse), cancellationToken).ConfigureAwait(false) is { } unreachable
                && await HostingCommands.StatusFromStoreAsync(parse, stores, site.Create(parse, mayCreate: true), parse.GetValue(name), unreachable, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            IReplicationSite target = site.Create(parse);
            var engine = ReportingSynchronizer.Engine("status");
            List<string> items = parse.GetValue(name) is { } one ? [one] : await SiteOptions.ToListAsync(engine.ListItemsAsync(target, cancellationToken)).ConfigureAwait(false);
            Dictionary<string, JsonReport> hosted = await HostingCommands.HostStatusAsync(parse, stores, target.Location, cancellationToken).ConfigureAwait(false);
            var reports = new List<JsonReport>();
            foreach (string item in items)
            {
                ItemStatus basic = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
                ItemStatus status = await engine.GetStatusAsync(target, item, [.. basic.Disks.Select(d => d.SourcePath + ".logs")], cancellationToken).ConfigureAwait(false);
                reports.Add(new JsonReport()
                    .Add("name", item)
                    .Add("state", Name(status.State))
                    .Add("testFailover", status.TestFailoverActive)
                    .Add("disks", status.Disks.Select(d => new JsonReport()
                        .Add("index", d.Index)
                        .Add("path", d.SourcePath)
                        .Add("virtualSize", d.VirtualSize)
                        .Add("pendingLogBytes", d.PendingLogBytes)
                        .Add("resyncReasons", d.ResyncReasons == ResyncReasons.None ? null : d.ResyncReasons.ToString())).ToList())
                    .Add("lastRecoveryPoint", status.LastRecoveryPoint?.Id)
                    .Add("lastRecoveryPointTime", status.LastRecoveryPoint?.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
                    .Add("rpoSeconds", status.RpoSeconds is { } rpo ? Math.Round(rpo, 1) : null)
                    .Add("pendingLogBytes", status.PendingLogBytes)
                    .Add("resyncRequired", status.ResyncRequired)
                    .Add("host", hosted.GetValueOrDefault(item))
                    .Add("error", status.LastError is { } e ? new JsonReport().Add("code", e.Code.ToString()).Add("recoverable", e.IsRecoverable).Add("message", e.Message) : null));
            }

            if (parse.GetValue(CliCommand.Json))
            {
                new JsonReport().Add("items", reports).Write(Console.Out, json: true);
                return;
            }

            TextTable.Write(
                Console.Out,
                // The host's columns only where a host's store exists for this site (repl run, or protect with a store).
                [.. (string[])["NAME", "STATE", "LAST POINT", "RPO", "PENDING LOGS", "RESYNC"], .. hosted.Count > 0 ? (string[])["HOST STATE", "PINNED TO"] : []],
                [.. reports.Select(r => (string[])
                [
                    r.Get("name") ?? "-", r.Get("state") ?? "-", r.Get("lastRecoveryPoint") ?? "-", r.Get("rpoSeconds") is { } s ? s + " s" : "-",
                    r.Get("pendingLogBytes") ?? "-", r.Get("resyncRequired") == "true" ? "required" : "-",
                    .. hosted.Count > 0 ? (string[])[hosted.GetValueOrDefault(r.Get("name") ?? "")?.Get("state") ?? "-", hosted.GetValueOrDefault(r.Get("name") ?? "")?.Get("pinnedHost") ?? "-"] : [],
                ])]);

            // Then each item's disks, and its last error when it has one.
            foreach (JsonReport r in reports)
            {
                Console.Out.WriteLine();
                new JsonReport()
                    .Add($"{r.Get("name")} disks", r.Field("disks"))
                    .Add("testFailover", r.Field("testFailover"))
                    .Add("lastRecoveryPointTime", r.Field("lastRecoveryPointTime"))
                    .Add("error", r.Field("error"))
                    .Write(Console.Out, json: false);
            }
        });
        return command;
    }

    private static Command Points()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var command = new Command("points", "List an item's recovery points, oldest first.") { name };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = ReportingSynchronizer.Engine("points");
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            IReadOnlyList<RecoveryPointInfo> points = await engine.ListRecoveryPointsAsync(target, item, cancellationToken).ConfigureAwait(false);
            List<JsonReport> reports = [.. points.Select(p => new JsonReport()
                .Add("id", p.Id)
                .Add("time", p.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
                .Add("kind", p.Kind == RecoveryPointKind.ApplicationConsistent ? "applicationConsistent" : "crashConsistent")
                .Add("disks", p.DiskPoints))];
            if (parse.GetValue(CliCommand.Json))
            {
                new JsonReport().Add("name", item).Add("points", reports).Write(Console.Out, json: true);
                return;
            }

            TextTable.Write(Console.Out, ["ID", "TIME (UTC)", "KIND", "DISK POINTS"], [.. reports.Select(r => new[] { r.Get("id") ?? "-", r.Get("time") ?? "-", r.Get("kind") ?? "-", r.Get("disks") ?? "-" })]);
        });
        return command;
    }

    private static Command Resync()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var command = new Command("resync", "Resynchronise an item now: compare every disk with its replica by block hashes, send only what differs, then apply the writes made meanwhile.") { name };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = ReportingSynchronizer.Engine("resync");
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            ItemStatus status = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using TrackedDisks opened = TrackedDisks.Open([.. status.Disks.Select(d => d.SourcePath)]);
            ReplicationRunResult result = await engine.ResyncAsync(new ProtectedMachine(target, item, opened.Disks), cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("name", item)
                .Add("state", Name(result.State))
                .Add("bytesHashed", result.BytesHashed)
                .Add("bytesCompared", result.BytesCompared)
                .Add("bytesSent", result.BytesSent)
                .Add("recoveryPoint", result.RecoveryPoint?.Id)
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Unprotect()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var command = new Command("unprotect", "Remove an item's protection: its replicas and recovery points at the site, and the logs its disks kept for it.") { name };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = ReportingSynchronizer.Engine("unprotect");
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            ItemStatus status = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
            string[] paths = [.. status.Disks.Select(d => d.SourcePath)];
            await using TrackedDisks? opened = paths.All(File.Exists) ? TrackedDisks.Open(paths) : null;
            await engine.UnprotectAsync(target, item, opened?.Disks, cancellationToken).ConfigureAwait(false);
            new JsonReport().Add("name", item).Add("site", target.Location).Add("unprotected", true).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    internal static string ActionName(ReplicationAction action) => action switch
    {
        ReplicationAction.InitialReplication => "initialReplication",
        ReplicationAction.Resync => "resync",
        _ => "deltaCycle",
    };

    internal static string Name(ProtectionState state) => state switch
    {
        ProtectionState.InitialReplication => "initialReplication",
        ProtectionState.ResyncRequired => "resyncRequired",
        ProtectionState.FailoverInProgress => "failoverInProgress",
        ProtectionState.FailedOver => "failedOver",
        ProtectionState.FailbackInProgress => "failbackInProgress",
        ProtectionState.FailedBack => "failedBack",
        ProtectionState.ReverseReplication => "reverseReplication",
        _ => char.ToLowerInvariant(state.ToString()[0]) + state.ToString()[1..],
    };

}
