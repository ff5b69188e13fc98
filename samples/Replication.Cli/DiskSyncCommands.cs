using System.CommandLine;
using System.Diagnostics;
using Replication.Core;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>The <c>repl disk</c> verbs for block manifests: manifest, diff, sync.</summary>
internal static class DiskSyncCommands
{
    internal static void AddTo(Command disk)
    {
        disk.Subcommands.Add(Manifest());
        disk.Subcommands.Add(Diff());
        disk.Subcommands.Add(Sync());
    }

    private static Command Manifest()
    {
        var path = new Argument<string>("disk") { Description = "The disk to hash (any format)." };
        var output = new Option<string>("--output", "-o") { Description = "The manifest file to write (replaced atomically).", Required = true };
        (Option<long> blockSize, Option<long> fineBlockSize) = BlockSizeOptions();
        var command = new Command("manifest", "Write a disk's block manifest: an XxHash128 per fine block and, per block, the XxHash128 of its fine hashes.")
        {
            path, output, blockSize, fineBlockSize,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            ManifestOptions options = ParseManifestOptions(parse, blockSize, fineBlockSize);
            long started = Stopwatch.GetTimestamp();
            using VirtualDisk disk = VirtualDisk.Open(parse.GetValue(path)!, DiskOpenOptions.ReadOnlyAccess);
            using ManifestBuildResult built = await new ManifestBuilder().BuildAsync(disk, parse.GetValue(output)!, options, ProgressDisplay.Manifest("manifest", TimeProvider.System), cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("disk", disk.FilePath)
                .Add("manifest", built.Manifest.FilePath)
                .Add("virtualSize", built.Manifest.VirtualSize)
                .Add("blockSize", built.Manifest.CoarseBlockSize)
                .Add("fineBlockSize", built.Manifest.FineBlockSize)
                .Add("blocks", built.Manifest.CoarseBlockCount)
                .Add("zeroBlocks", built.Manifest.ZeroBlockCount)
                .Add("bytesRead", built.BytesRead)
                .Add("bytesHashed", built.BytesHashed)
                .Add("manifestFileBytes", built.Manifest.FileLength)
                .Add("seconds", Seconds(started))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Diff()
    {
        var a = new Argument<string>("a") { Description = "A disk (raw, VHD or VHDX, detected from its content as 'repl disk info' does), or a manifest with --manifest a." };
        var b = new Argument<string>("b") { Description = "Another disk of the same virtual size, or a manifest with --manifest b." };
        var manifests = new Option<string[]>("--manifest")
        {
            Description = "Read argument a (or b) as a block manifest written by 'repl disk manifest' instead of hashing a disk; give it twice for both. " +
                          "Without it both arguments are disks, whatever their first bytes spell.",
            Arity = ArgumentArity.OneOrMore,
        };
        manifests.AcceptOnlyFromAmong("a", "b");
        (Option<long> blockSize, Option<long> fineBlockSize) = BlockSizeOptions();
        var command = new Command("diff", "List the byte ranges in which two disks differ, rounded to the fine block.") { a, b, manifests, blockSize, fineBlockSize };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            long started = Stopwatch.GetTimestamp();
            string pathA = Path.GetFullPath(parse.GetValue(a)!);
            string pathB = Path.GetFullPath(parse.GetValue(b)!);
            string[] asManifest = parse.GetValue(manifests) ?? [];
            using Input first = Input.Open(pathA, "a", asManifest.Contains("a"));
            using Input second = Input.Open(pathB, "b", asManifest.Contains("b"));
            if (first.VirtualSize != second.VirtualSize)
            {
                throw new ArgumentException(
                    $"{pathA} is {first.VirtualSize} bytes and {pathB} is {second.VirtualSize} bytes: only disks of the same virtual size can be compared{first.ManifestHint}{second.ManifestHint}.");
            }

            // A manifest given as input sets the block sizes the other side is hashed with, unless they are given.
            BlockManifest? given = first.Manifest ?? second.Manifest;
            ManifestOptions options = given is not null && parse.GetValue(blockSize) == 0 && parse.GetValue(fineBlockSize) == 0
                ? new ManifestOptions { CoarseBlockSize = given.CoarseBlockSize, FineBlockSize = given.FineBlockSize }
                : ParseManifestOptions(parse, blockSize, fineBlockSize);
            first.Manifest?.EnsureGeometry(first.VirtualSize, options.CoarseBlockSize, options.FineBlockSize);
            second.Manifest?.EnsureGeometry(second.VirtualSize, options.CoarseBlockSize, options.FineBlockSize);
            BlockManifest manifestA = await first.ManifestAsync(options, cancellationToken).ConfigureAwait(false);
            BlockManifest manifestB = await second.ManifestAsync(options, cancellationToken).ConfigureAwait(false);
            BlockDiff diff = BlockDiff.Compare(manifestA, manifestB, cancellationToken);
            new JsonReport()
                .Add("a", pathA)
                .Add("b", pathB)
                .Add("virtualSize", manifestA.VirtualSize)
                .Add("blockSize", manifestA.CoarseBlockSize)
                .Add("fineBlockSize", manifestA.FineBlockSize)
                .Add("bytesCompared", diff.BytesCompared)
                .Add("differingBlocks", diff.DifferingBlocks)
                .Add("changedBytes", diff.ChangedBytes)
                .Add("ranges", diff.Ranges.Select(r => new[] { r.Offset, r.Length }).ToList())
                .Add("seconds", Seconds(started))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Sync()
    {
        var source = new Argument<string>("source") { Description = "The disk to copy from (any format); only read." };
        var target = new Argument<string>("target") { Description = "The disk to make equal to the source (any format, same virtual size)." };
        (Option<long> blockSize, Option<long> fineBlockSize) = BlockSizeOptions();
        var dryRun = new Option<bool>("--dry-run") { Description = "Compare and report what would be sent; write nothing." };
        var targetManifest = new Option<string?>("--target-manifest") { Description = "The target's stored manifest (default: <target>.manifest)." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "The checkpoint file that makes a killed sync resumable (default: <target>.sync)." };
        var policy = new Option<string>("--target-manifest-policy")
        {
            Description = "When the stored target manifest is trusted: verify (stamp and a sample, default), sample (a sample only), rebuild (never).",
            DefaultValueFactory = _ => "verify",
        };
        policy.AcceptOnlyFromAmong("verify", "sample", "rebuild");
        var sourceLogs = new Option<string?>("--source-logs")
        {
            Description = "The source's change-tracking folder (the --logs of 'repl nbd serve'; the tracker must be stopped): the source manifest kept there " +
                          "is refreshed by rehashing only the blocks written through the tracker since, when its state proves it saw every write; " +
                          "otherwise the source is hashed in full. The new source manifest is kept there.",
        };
        var command = new Command("sync", "Make the target read equal to the source by sending only the blocks whose checksums differ.")
        {
            source, target, blockSize, fineBlockSize, dryRun, targetManifest, checkpoint, policy, sourceLogs,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            ManifestOptions manifest = ParseManifestOptions(parse, blockSize, fineBlockSize);
            bool dry = parse.GetValue(dryRun);
            using VirtualDisk from = VirtualDisk.Open(parse.GetValue(source)!, DiskOpenOptions.ReadOnlyAccess);
            using VirtualDisk to = VirtualDisk.Open(parse.GetValue(target)!, dry ? DiskOpenOptions.ReadOnlyAccess : DiskOpenOptions.Default);
            TargetManifestPolicy trust = parse.GetValue(policy) switch
            {
                "sample" => TargetManifestPolicy.VerifySample,
                "rebuild" => TargetManifestPolicy.Rebuild,
                _ => TargetManifestPolicy.VerifyStampAndSample,
            };
            var options = new SyncOptions
            {
                Manifest = manifest,
                CheckpointPath = parse.GetValue(checkpoint) ?? to.FilePath + ".sync",
                TargetManifestPolicy = trust,
                DryRun = dry,
                SourceTrackingDirectory = parse.GetValue(sourceLogs),
            };
            var stored = new ManifestFile(parse.GetValue(targetManifest) ?? to.FilePath + ".manifest", to, checkStamp: trust == TargetManifestPolicy.VerifyStampAndSample);
            SyncResult result = await new DiskSynchronizer().ResyncAsync(from, to, stored, options, ProgressDisplay.Sync(dry ? "sync (dry run)" : "sync"), cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("source", from.FilePath)
                .Add("target", to.FilePath)
                .Add("dryRun", result.IsDryRun)
                .Add("resumed", result.Resumed)
                .Add("targetManifest", result.TargetManifest?.ToString().ToLowerInvariant())
                .Add("targetManifestRejection", result.TargetManifestRejection)
                .Add("sourceManifestRefreshed", result.SourceManifestRefreshed)
                .Add("sourceManifestRejection", result.SourceManifestRejection)
                .Add("virtualSize", result.VirtualSize)
                .Add("bytesCompared", result.BytesCompared)
                .Add("bytesDiffering", result.BytesDiffering)
                .Add("zeroBytes", result.ZeroBytes)
                .Add("differingBlocks", result.DifferingBlocks)
                .Add("ranges", result.RangeCount)
                .Add("manifestBytes", result.ManifestBytes)
                .Add("dataBytesSent", result.DataBytesSent)
                .Add("bytesSent", result.BytesSent)
                .Add("bytesWritten", result.BytesWritten)
                .Add("bytesRead", result.BytesRead)
                .Add("bytesHashed", result.BytesHashed)
                .Add("seconds", Math.Round(result.Elapsed.TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static (Option<long> Coarse, Option<long> Fine) BlockSizeOptions() =>
        (CliCommand.SizeOption("--block-size", "Coarse block size: a power of two from 512 to 64MiB (default 1MiB).", required: false),
         CliCommand.SizeOption("--fine-block-size", "Fine block size: a power of two from 512 to the block size (default 4KiB).", required: false));

    private static ManifestOptions ParseManifestOptions(ParseResult parse, Option<long> coarse, Option<long> fine)
    {
        long c = parse.GetValue(coarse) is > 0 and var cv ? cv : ManifestOptions.DefaultCoarseBlockSize;
        long f = parse.GetValue(fine) is > 0 and var fv ? fv : ManifestOptions.DefaultFineBlockSize;
        if (c > ManifestOptions.MaxCoarseBlockSize)
        {
            throw new ArgumentException($"--block-size {c}: at most 64MiB.");
        }

        var options = new ManifestOptions { CoarseBlockSize = (int)c, FineBlockSize = (int)Math.Min(f, int.MaxValue) };
        if (options.Validate() is [var failure, ..])
        {
            string option = failure.StartsWith(nameof(ManifestOptions.FineBlockSize), StringComparison.Ordinal) ? "--fine-block-size" : "--block-size";
            throw new ArgumentException($"{option}: {failure[(failure.IndexOf(' ', StringComparison.Ordinal) + 1)..]}");
        }

        return options;
    }

    private static double Seconds(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3);

    /// <summary>
    /// One side of a diff: a manifest file when the user said so (used as it is, after validation), otherwise a disk
    /// opened exactly as 'repl disk info' opens it (hashed into a temporary manifest).
    /// </summary>
    private sealed class Input : IDisposable
    {
        private VirtualDisk? _disk;
        private ManifestBuildResult? _built;
        private string? _temporary;

        private Input(BlockManifest? manifest, VirtualDisk? disk, string manifestHint)
        {
            Manifest = manifest;
            _disk = disk;
            ManifestHint = manifestHint;
        }

        public BlockManifest? Manifest { get; }

        public long VirtualSize => Manifest?.VirtualSize ?? _disk!.VirtualSize;

        /// <summary>
        /// For a disk whose first bytes spell the manifest magic, a pointer to --manifest for when a failure comes from
        /// reading a manifest as a disk; otherwise empty.
        /// </summary>
        public string ManifestHint { get; }

        public static Input Open(string path, string side, bool asManifest)
        {
            if (asManifest)
            {
                return new Input(BlockManifest.Open(path), null, "");
            }

            string hint = StartsWithManifestMagic(path)
                ? $" ({path} starts like a block manifest: pass --manifest {side} to read it as one)"
                : "";
            try
            {
                return new Input(null, VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess), hint);
            }
            catch (InvalidDiskFormatException ex) when (hint.Length > 0)
            {
                throw new ArgumentException($"{ex.Message.TrimEnd('.')}{hint}.", ex);
            }
        }

        public async Task<BlockManifest> ManifestAsync(ManifestOptions options, CancellationToken cancellationToken)
        {
            if (Manifest is not null)
            {
                return Manifest;
            }

            _temporary = Path.Combine(Path.GetTempPath(), $"repl-diff-{Guid.NewGuid():N}.manifest");
            _built = await new ManifestBuilder().BuildAsync(_disk!, _temporary, options, ProgressDisplay.Manifest($"hashing {_disk!.FilePath}", TimeProvider.System), cancellationToken).ConfigureAwait(false);
            return _built.Manifest;
        }

        public void Dispose()
        {
            Manifest?.Dispose();
            _built?.Dispose();
            _disk?.Dispose();
            _disk = null;
            if (_temporary is not null)
            {
                File.Delete(_temporary);
            }
        }

        private static bool StartsWithManifestMagic(string path)
        {
            if (!File.Exists(path))
            {
                return false;
            }

            Span<byte> magic = stackalloc byte[8];
            using FileStream stream = File.OpenRead(path);
            return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && magic.SequenceEqual("REPLMFST"u8);
        }
    }
}
