using System.CommandLine;
using System.Globalization;
using Replication.Core;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>The <c>repl hrl</c> verbs: dump, diff, apply.</summary>
internal static class HrlCommands
{
    public static Command Build()
    {
        var hrl = new Command("hrl", "Read, create and apply Hyper-V Replica Log (MS-HRL) change logs.");
        hrl.Subcommands.Add(Dump());
        hrl.Subcommands.Add(Diff());
        hrl.Subcommands.Add(Apply());
        return hrl;
    }

    private static Command Dump()
    {
        var path = new Argument<string>("log") { Description = "The HRL log (version 1 or 2)." };
        var noVerify = new Option<bool>("--no-verify")
        {
            Description = "Skip the data checks (every entry's data checksum, when recorded, and the log's .xxh128 sidecar, when it exists); the structures are still validated.",
        };
        var command = new Command(
            "dump",
            "Show a log's header and its entries in log order, after checking every entry's data against its checksum and the log against its .xxh128 sidecar (when it has one), as 'hrl apply' does; a log left open is read up to its last complete batch.")
        {
            path, noVerify,
        };
        command.SetHandler((parse, cancellationToken) =>
        {
            using HrlReader reader = HrlReader.Open(parse.GetValue(path)!);
            bool verify = !parse.GetValue(noVerify);
            long dataChecksumsVerified = 0;
            bool sidecarVerified = false;
            if (verify)
            {
                // The entries first, so a mismatch names the entry and its offset; then the whole file against its
                // sidecar, which also catches what byte sums cannot (swapped bytes, an entry rewritten with its checksum).
                // A log left open has no sidecar, and recovery accepts only batches whose recorded checksums match.
                if (reader.IsClosedCleanly)
                {
                    dataChecksumsVerified = reader.VerifyData(cancellationToken);
                }

                sidecarVerified = HrlIntegrity.VerifySidecarIfPresent(reader.FilePath, cancellationToken);
            }

            HrlFileHeader header = reader.Header;
            IEnumerable<HrlRecord> records;
            long validLength = (long)header.EolLocation;
            if (reader.IsClosedCleanly)
            {
                records = reader.ReadRecords();
            }
            else
            {
                HrlRecoveryResult recovered = reader.Recover(cancellationToken);
                validLength = recovered.ValidLength;
                records = reader.ReadRecords(recovered);
            }

            var entries = new List<JsonReport>();
            long dataBytes = 0;
            foreach (HrlRecord record in records)
            {
                entries.Add(new JsonReport()
                    .Add("offset", record.DiskOffset)
                    .Add("length", record.Length)
                    .Add("timestamp", record.Timestamp.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)));
                dataBytes += record.Length;
            }

            new JsonReport()
                .Add("path", reader.FilePath)
                .Add("version", (int)(header.LogFormatVersion >> 16))
                .Add("uniqueId", header.UniqueId)
                .Add("previousUniqueId", header.PreviousUniqueId)
                .Add("vhd2DataWriteGuid", header.LogFormatVersion >> 16 >= 2 ? header.Vhd2DataWriteGuid : null)
                .Add("eolLocation", (long)header.EolLocation)
                .Add("closedCleanly", reader.IsClosedCleanly)
                .Add("validLength", validLength)
                .Add("metadataSize", reader.MetadataSize)
                .Add("creatorApplication", header.CreatorApplication)
                .Add("created", header.CreationTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))
                .Add("entryCount", entries.Count)
                .Add("dataBytes", dataBytes)
                .Add("verified", verify)
                .Add("dataChecksumsVerified", dataChecksumsVerified)
                .Add("sidecarVerified", sidecarVerified)
                .Add("entries", entries)
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
            return Task.CompletedTask;
        });
        return command;
    }

    private static Command Diff()
    {
        var oldDisk = new Argument<string>("old-disk") { Description = "The disk the log applies to (any format)." };
        var newDisk = new Argument<string>("new-disk") { Description = "The disk the log leads to (any format, same size)." };
        var output = new Option<string>("--output", "-o") { Description = "The log to write; it must not exist.", Required = true };
        var previous = new Option<string?>("--previous") { Description = "A sealed log this one follows: its UniqueId becomes this log's PreviousUniqueId." };
        var command = new Command("diff", "Write one sealed HRL log holding exactly the 512-byte sectors where two disks differ (with its .xxh128 sidecar).")
        {
            oldDisk, newDisk, output, previous,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            Guid previousId = Guid.Empty;
            if (parse.GetValue(previous) is { } previousPath)
            {
                using HrlReader previousLog = HrlReader.Open(previousPath);
                previousId = previousLog.Header.UniqueId;
            }

            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            using VirtualDisk before = VirtualDisk.Open(parse.GetValue(oldDisk)!, DiskOpenOptions.ReadOnlyAccess);
            using VirtualDisk after = VirtualDisk.Open(parse.GetValue(newDisk)!, DiskOpenOptions.ReadOnlyAccess);
            DeltaLogResult result = await new DeltaLog().CreateAsync(before, after, parse.GetValue(output)!, previousId, cancellationToken: cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("path", result.Path)
                .Add("uniqueId", result.UniqueId)
                .Add("previousUniqueId", result.PreviousUniqueId)
                .Add("entryCount", result.RecordCount)
                .Add("dataBytes", result.DataBytes)
                .Add("comparedBytes", result.ComparedBytes)
                .Add("length", result.Length)
                .Add("xxh128", result.Hash.ToString("x32", CultureInfo.InvariantCulture))
                .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Apply()
    {
        var disk = new Argument<string>("disk") { Description = "The disk to write (any format)." };
        var logs = new Argument<string[]>("logs") { Description = "Sealed logs, in chain order (oldest first).", Arity = ArgumentArity.OneOrMore };
        var undo = new Option<string?>("--undo") { Description = "Capture the pre-image of every range overwritten into this HRL log first." };
        var expect = new Option<Guid?>("--expect-previous") { Description = "The UniqueId of the last log already applied to the disk: the first log must follow it." };
        var allowMissing = new Option<bool>("--allow-missing-sidecar") { Description = "Apply logs that have no .xxh128 sidecar (logs written by Hyper-V); a sidecar that exists is still checked." };
        var parallelism = new Option<int>("--parallelism") { Description = "Disk writes in flight at once (1-64).", DefaultValueFactory = _ => 4 };
        var command = new Command("apply", "Apply sealed logs in chain order to a disk: checked, coalesced (last write wins), written in ascending order, flushed.")
        {
            disk, logs, undo, expect, allowMissing, parallelism,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            if (!parse.GetValue(allowMissing) && parse.GetValue(logs)!.FirstOrDefault(log => File.Exists(log) && !File.Exists(HrlIntegrity.GetSidecarPath(Path.GetFullPath(log)))) is { } bare)
            {
                // Refused below as well; said here in the tool's own terms.
                throw new ReplicationException(
                    ReplicationErrorCode.NotFound,
                    false,
                    $"{Path.GetFullPath(bare)}: the log has no integrity sidecar ({HrlIntegrity.GetSidecarPath(Path.GetFullPath(bare))}); logs written by Hyper-V have none: apply it with --allow-missing-sidecar, which checks its recorded data checksums instead.");
            }

            var options = new LogApplyOptions
            {
                ExpectedPreviousUniqueId = parse.GetValue(expect),
                UndoLogPath = parse.GetValue(undo),
                Transfer = new TransferOptions { MaxConcurrency = parse.GetValue(parallelism) },
                RequireIntegritySidecar = !parse.GetValue(allowMissing),
            };
            using VirtualDisk target = VirtualDisk.Open(parse.GetValue(disk)!);
            LogApplyResult result = await new LogApplier().ApplyAsync(parse.GetValue(logs)!, target, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("disk", target.FilePath)
                .Add("logCount", result.LogCount)
                .Add("previousUniqueId", result.PreviousUniqueId)
                .Add("lastUniqueId", result.LastUniqueId)
                .Add("entryCount", result.RecordCount)
                .Add("loggedBytes", result.LoggedBytes)
                .Add("extentCount", result.ExtentCount)
                .Add("bytesWritten", result.BytesWritten)
                .Add("undo", result.UndoLog?.Path)
                .Add("undoUniqueId", result.UndoLog?.UniqueId)
                .Add("undoReused", result.UndoLog?.Reused)
                .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }
}
