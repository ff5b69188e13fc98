using System.CommandLine;
using System.Globalization;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.Cli;

/// <summary>
/// The failover verbs: <c>failover</c> (test, planned, unplanned; <c>failover cleanup</c> ends a test), <c>commit</c>,
/// <c>failback</c>, <c>reverse</c>. The recovered machine is written to a folder: each disk as a file, and
/// <c>NAME.machine.json</c> with its adapters on the recovery networks.
/// </summary>
internal static class FailoverCommands
{
    public static IEnumerable<Command> Build() => [Failover(), Commit(), Failback(), Reverse()];

    private static Command Failover()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var kind = new Option<string>("--kind") { Description = "test, planned or unplanned.", Required = true };
        kind.AcceptOnlyFromAmong("test", "planned", "unplanned");
        var point = new Option<string?>("--point") { Description = "The recovery point (test, unplanned; default the newest; see 'repl points')." };
        var output = new Option<string?>("--out") { Description = "Folder for the recovered machine's disks and description (default ./NAME-failover, ./NAME-test-failover for a test)." };
        var format = new Option<string>("--format") { Description = "The recovered disks' format: vhdx (dynamic, the default), vhd (dynamic) or raw.", DefaultValueFactory = _ => "vhdx" };
        format.AcceptOnlyFromAmong("vhdx", "vhd", "raw");
        var networkMap = new Option<string[]>("--network-map") { Description = "Map a source network to a recovery network: SRC=DST (repeatable; overrides the mapping given at protect)." };
        var command = new Command(
            "failover",
            "Fail an item over. test: a disposable copy of a point while replication goes on (end it with 'failover cleanup'); planned: the disks are closed, a final cycle ships the rest and the copy equals the source exactly; unplanned: the newest (or --point) point, with nothing needed from the primary.")
        {
            name, kind, point, output, format, networkMap,
        };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = new ReplicationEngine();
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            FailoverKind failover = parse.GetValue(kind) switch { "test" => FailoverKind.Test, "planned" => FailoverKind.Planned, _ => FailoverKind.Unplanned };
            DiskFileOutput destination = Output(parse.GetValue(output), item, failover == FailoverKind.Test, parse.GetValue(format)!);
            FailoverResult result;
            if (failover == FailoverKind.Planned)
            {
                // The disks are opened through their trackers: if anything still tracks and writes them (repl nbd serve),
                // this is refused; the shutdown of the source is the operator's, before running this.
                ItemStatus status = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
                await using TrackedDisks opened = TrackedDisks.Open([.. status.Disks.Select(d => d.SourcePath)]);
                result = await engine.FailoverAsync(new FailoverRequest
                {
                    Site = target,
                    Name = item,
                    Kind = failover,
                    Machine = new ProtectedMachine(target, item, opened.Disks),
                    NetworkMapping = Pairs.Parse(parse.GetValue(networkMap), "--network-map"),
                    Output = destination,
                }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                result = await engine.FailoverAsync(new FailoverRequest
                {
                    Site = target,
                    Name = item,
                    Kind = failover,
                    PointId = parse.GetValue(point),
                    NetworkMapping = Pairs.Parse(parse.GetValue(networkMap), "--network-map"),
                    Output = destination,
                }, cancellationToken).ConfigureAwait(false);
            }

            Describe(result.Machine, parse.GetValue(kind)!, result.State).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        command.Subcommands.Add(Cleanup());
        return command;
    }

    private static Command Cleanup()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var output = new Option<string?>("--out") { Description = "The folder the test failover wrote to (default ./NAME-test-failover)." };
        var command = new Command("cleanup", "End a test failover: its recovered disks and description are removed; replication went on throughout.") { name, output };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = new ReplicationEngine();
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            await engine.CleanupTestFailoverAsync(target, item, Output(parse.GetValue(output), item, test: true, "vhdx"), cancellationToken).ConfigureAwait(false);
            new JsonReport().Add("name", item).Add("testFailover", false).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Commit()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var command = new Command("commit", "Commit a failover: the failed-over point is kept and every other recovery point is dropped.") { name };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = new ReplicationEngine();
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            await engine.CommitAsync(target, item, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<RecoveryPointInfo> points = await engine.ListRecoveryPointsAsync(target, item, cancellationToken).ConfigureAwait(false);
            new JsonReport().Add("name", item).Add("state", "committed").Add("point", points.Count > 0 ? points[^1].Id : null).Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Failback()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var mode = new Option<string>("--mode") { Description = "minimize-downtime (compare while the recovered machine runs, then send the rest), full-download (copy whole), alternate-disk (copy to --to).", Required = true };
        mode.AcceptOnlyFromAmong("minimize-downtime", "full-download", "alternate-disk");
        var to = new Option<string[]>("--to") { Description = "The disks to copy to, in disk order (default: the primary's disks; alternate-disk: new files, created when missing, format from the extension)." };
        var command = new Command("failback", "Copy a committed failover's recovered machine back to the primary (or to other disks); then 'repl reverse' protects the primary again.") { name, mode, to };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = new ReplicationEngine();
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            FailbackMode failback = parse.GetValue(mode) switch { "minimize-downtime" => FailbackMode.MinimizeDowntime, "full-download" => FailbackMode.FullDownload, _ => FailbackMode.AlternateDisk };
            string[] destinations = parse.GetValue(to) ?? [];
            if (failback == FailbackMode.AlternateDisk && destinations.Length == 0)
            {
                throw new ArgumentException("alternate-disk needs --to, once per disk.");
            }

            FailbackResult result = await engine.FailbackAsync(new FailbackRequest
            {
                Site = target,
                Name = item,
                Mode = failback,
                Destinations = destinations.Length == 0 ? null : [.. destinations.Select(Path.GetFullPath)],
            }, cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("name", item)
                .Add("mode", parse.GetValue(mode))
                .Add("state", "failedBack")
                .Add("bytesCompared", result.BytesCompared)
                .Add("bytesSent", result.BytesSent)
                .Add("bytesSentWhileStopped", result.BytesSentWhileStopped)
                .Add("disks", result.Disks.Select(d => new JsonReport().Add("path", d)).ToList())
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Reverse()
    {
        var site = new SiteOptions();
        var name = new Option<string?>("--name") { Description = "The item (default: the site's only item)." };
        var command = new Command("reverse", "Protect the primary again after a failback: resynchronise each disk against its replica (only differences are sent), then delta cycles go on.") { name };
        site.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            IReplicationSite target = site.Create(parse);
            var engine = new ReplicationEngine(new ReplicationEngineOptions { Progress = EngineProgress.For(parse) });
            string item = await site.ItemAsync(engine, target, parse.GetValue(name), cancellationToken).ConfigureAwait(false);
            ItemStatus status = await engine.GetStatusAsync(target, item, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using TrackedDisks opened = TrackedDisks.Open([.. status.Disks.Select(d => d.SourcePath)]);
            ReplicationRunResult result = await engine.ReverseReplicationAsync(new ProtectedMachine(target, item, opened.Disks), cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("name", item)
                .Add("state", "protected")
                .Add("bytesCompared", result.BytesCompared)
                .Add("bytesSent", result.BytesSent)
                .Add("recoveryPoint", result.RecoveryPoint?.Id)
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static DiskFileOutput Output(string? folder, string item, bool test, string format) => new(
        folder ?? Path.GetFullPath(test ? $"{item}-test-failover" : $"{item}-failover"),
        format switch { "vhd" => DiskFormat.Vhd, "raw" => DiskFormat.Raw, _ => DiskFormat.Vhdx });

    /// <summary>The failover's JSON: kind, point, the recovered disks and the machine with its mapped networks.</summary>
    private static JsonReport Describe(RecoveredMachine machine, string kind, ProtectionState state) => new JsonReport()
        .Add("name", machine.Item)
        .Add("kind", kind)
        .Add("state", state == ProtectionState.FailedOver ? "failedOver" : "protected")
        .Add("point", machine.Point.Id)
        .Add("pointTime", machine.Point.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
        .Add("disks", machine.Disks.Select(d => new JsonReport().Add("path", d)).ToList())
        .Add("machine", new JsonReport()
            .Add("name", machine.Machine.Name)
            .Add("cpuCount", machine.Machine.CpuCount)
            .Add("memoryBytes", machine.Machine.MemoryBytes)
            .Add("networkAdapters", machine.Machine.NetworkAdapters.Select(a => new JsonReport().Add("name", a.Name).Add("network", a.Network)).ToList()));
}
