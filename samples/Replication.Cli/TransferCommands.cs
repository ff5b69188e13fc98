using System.CommandLine;
using Replication.Core;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Targets.Local;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>The <c>repl upload</c> and <c>repl download</c> verbs: seed a replica target from a disk, and copy it back.</summary>
internal static class TransferCommands
{
    private const string ConnectionStringVariable = "AZURE_STORAGE_CONNECTION_STRING";

    public static IEnumerable<Command> Build() => [Upload(), Download()];

    private static Command Upload()
    {
        var disk = new Argument<string>("disk") { Description = "The disk to seed from (any format)." };
        Target target = new();
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight (1-64).", DefaultValueFactory = _ => 8 };
        Option<long> maxRate = CliCommand.SizeOption("--max-bytes-per-second", "Bandwidth limit for the data sent (for example 20MiB).", required: false);
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint file that lets an interrupted upload resume (default: <disk>.upload-checkpoint)." };
        var breakFence = new Option<bool>("--break-fence") { Description = "Take the replica's writer fence even from a writer that holds it." };
        var createContainer = new Option<bool>("--create-container") { Description = "Create the Azure container when it does not exist (otherwise a missing container is an error)." };
        var create = new Option<bool>("--create") { Description = "Create the --target directory when it does not exist (otherwise a missing directory is an error)." };
        var command = new Command("upload", "Seed a replica (an Azure page blob holding a fixed VHD, or a local directory) from a disk; zero runs are not sent, and an interrupted upload resumes.")
        {
            disk, concurrency, maxRate, checkpoint, breakFence, createContainer, create,
        };
        target.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            using VirtualDisk source = VirtualDisk.Open(parse.GetValue(disk)!, DiskOpenOptions.ReadOnlyAccess);
            IReplicaTarget replica = target.Create(parse, parse.GetValue(createContainer), parse.GetValue(create));
            long size = replica.Capabilities.ReplicaSizeFor(source.VirtualSize);
            bool created = await CreateReplicaAsync(replica, size, target.NewDirectory, cancellationToken).ConfigureAwait(false);
            string checkpointPath = parse.GetValue(checkpoint) ?? DefaultCheckpoint(source.FilePath!);
            CliCommand.ResumeHint = $"the checkpoint {checkpointPath} is saved and the replica's fence released: run the same command again to resume";
            SyncResult seed;
            await using (IReplicaWriter writer = await replica.AcquireWriterAsync(new ReplicaWriterOptions { BreakExisting = parse.GetValue(breakFence) }, cancellationToken).ConfigureAwait(false))
            {
                var options = new SyncOptions
                {
                    Transfer = new TransferOptions
                    {
                        MaxConcurrency = parse.GetValue(concurrency),
                        MaxBytesPerSecond = parse.GetValue(maxRate) is > 0 and var rate ? rate : null,
                    },
                    DestinationKnownZero = created,
                    CheckpointPath = checkpointPath,
                };

                // A new replica is seeded in full. One that already holds a seed is re-seeded by manifest: only what differs
                // is sent. Its stored manifest is used only when the replica's stamp and a sample show nothing else changed
                // it; otherwise the replica is hashed first. A checkpoint of an interrupted full seed resumes that seed.
                var sync = new DiskSynchronizer();
                ProgressLines? lines = ProgressLines.For("upload", parse.GetValue(CliCommand.Json));
                seed = created
                    ? await sync.SeedAsync(source, writer, writer, options, lines, cancellationToken).ConfigureAwait(false)
                    : await sync.ResyncAsync(source, writer, writer, options, lines, cancellationToken).ConfigureAwait(false);
            }

            TransferResult? result = seed.Transfer;

            new JsonReport()
                .Add("source", source.FilePath)
                .Add("target", replica.Location)
                .Add("virtualSize", size)
                .Add("created", created)
                .Add("mode", seed.Mode == SyncMode.ByManifest ? "manifest" : "full")
                .Add("replicaManifest", seed.TargetManifest switch { TargetManifestOrigin.Verified => "verified", TargetManifestOrigin.Rebuilt => "rebuilt", TargetManifestOrigin.Checkpoint => "checkpoint", _ => null })
                .Add("replicaManifestRejection", seed.TargetManifestRejection)
                .Add("replicaBytesRead", seed.DestinationBytesRead)
                .Add("bytesDiffering", seed.BytesDiffering)
                .Add("bytesRead", result?.BytesRead ?? 0)
                .Add("bytesUploaded", result?.BytesSent ?? 0)
                .Add("bytesSkippedZero", result?.BytesZeroed ?? 0)
                .Add("requests", result?.Requests ?? 0)
                .Add("retries", result?.Retries ?? 0)
                .Add("resumedFrom", result?.ResumedFrom ?? 0)
                .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    private static Command Download()
    {
        var output = new Argument<string>("out") { Description = "The disk file to create; it must not exist." };
        Target target = new();
        var format = new Option<string>("--format") { Description = "raw, vhd or vhdx (default raw).", DefaultValueFactory = _ => "raw" };
        format.AcceptOnlyFromAmong("raw", "vhd", "vhdx");
        var point = new Option<string?>("--recovery-point") { Description = "Download this recovery point instead of the replica as it is now." };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight (1-64).", DefaultValueFactory = _ => 8 };
        var command = new Command("download", "Copy a replica (or one of its recovery points) into a new local disk file.") { output, format, point, concurrency };
        target.AddTo(command);
        command.SetHandler(async (parse, cancellationToken) =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            IReplicaTarget replica = target.Create(parse);
            string path = Path.GetFullPath(parse.GetValue(output)!);
            string kind = parse.GetValue(format)!;
            using IVirtualDisk source = parse.GetValue(point) is { } id
                ? await replica.OpenRecoveryPointAsync(id, cancellationToken).ConfigureAwait(false)
                : await replica.OpenReplicaAsync(cancellationToken).ConfigureAwait(false);
            SyncResult result;
            using (VirtualDisk destination = VirtualDisk.Create(path, new DiskCreateOptions
            {
                Format = kind switch { "vhd" => DiskFormat.Vhd, "vhdx" => DiskFormat.Vhdx, _ => DiskFormat.Raw },
                Type = kind == "raw" ? DiskType.Fixed : DiskType.Dynamic,
                VirtualSize = source.VirtualSize,
            }))
            {
                try
                {
                    result = await new DiskSynchronizer().SeedAsync(
                        source,
                        destination,
                        options: new SyncOptions { DestinationKnownZero = true, Transfer = new TransferOptions { MaxConcurrency = parse.GetValue(concurrency) } },
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    destination.Dispose();
                    File.Delete(path);
                    throw;
                }
            }

            new JsonReport()
                .Add("target", replica.Location)
                .Add("destination", path)
                .Add("format", kind)
                .Add("virtualSize", source.VirtualSize)
                .Add("bytesRead", result.Transfer!.BytesRead)
                .Add("bytesWritten", result.Transfer.BytesSent)
                .Add("bytesSkippedZero", result.Transfer.BytesZeroed)
                .Add("requests", result.Transfer.Requests)
                .Add("retries", result.Transfer.Retries)
                .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    /// <summary>
    /// Creates the replica (and the local site's directory, when the caller allowed it); when that fails, a directory
    /// made for it is removed again, so a refused target leaves nothing behind.
    /// </summary>
    private static async Task<bool> CreateReplicaAsync(IReplicaTarget replica, long size, string? newDirectory, CancellationToken cancellationToken)
    {
        string? made = newDirectory is not null && !Directory.Exists(newDirectory) ? newDirectory : null;
        try
        {
            return await replica.CreateReplicaAsync(size, cancellationToken).ConfigureAwait(false);
        }
        catch when (made is not null)
        {
            Directory.Delete(made, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// <c>DISK.upload-checkpoint</c> beside the disk; for a file name too long to take the suffix, a shortened name made
    /// unique by a hash of the full path.
    /// </summary>
    internal static string DefaultCheckpoint(string diskPath)
    {
        const string Suffix = ".upload-checkpoint";
        const int NameLimit = 255;
        string name = Path.GetFileName(diskPath);
        if (System.Text.Encoding.UTF8.GetByteCount(name) + Suffix.Length <= NameLimit)
        {
            return diskPath + Suffix;
        }

        string hash = System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(diskPath)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        string prefix = name[..Math.Min(name.Length, 100)];
        while (System.Text.Encoding.UTF8.GetByteCount(prefix) > 100)
        {
            prefix = prefix[..^1];
        }

        return Path.Combine(Path.GetDirectoryName(diskPath)!, $"{prefix}-{hash}{Suffix}");
    }

    /// <summary>The target options every transfer verb takes: Azure (connection string, container, blob) or --target DIR.</summary>
    private sealed class Target
    {
        private readonly Option<string?> _directory = new("--target") { Description = "A local directory target instead of Azure." };
        private readonly Option<string?> _replicaFormat = new("--replica-format")
        {
            Description = "The local replica file's format when the site is new: vhd (fixed, the default), vhdx (fixed) or raw. A site keeps the format its replica was created with.",
        };
        private readonly Option<string?> _connectionString = new("--connection-string")
        {
            Description = $"Azure Storage connection string (default: ${ConnectionStringVariable}; the environment keeps it out of the process list).",
        };

        private readonly Option<string?> _container = new("--container") { Description = "The container of the page blob (it must exist)." };
        private readonly Option<string?> _blob = new("--blob") { Description = "The page blob holding the replica (a fixed VHD)." };

        /// <summary>The local site's directory when <see cref="Create"/> made a local target whose directory does not exist yet; else null.</summary>
        public string? NewDirectory { get; private set; }

        public void AddTo(Command command)
        {
            _replicaFormat.AcceptOnlyFromAmong("vhd", "vhdx", "raw");
            command.Options.Add(_directory);
            command.Options.Add(_replicaFormat);
            command.Options.Add(_connectionString);
            command.Options.Add(_container);
            command.Options.Add(_blob);
        }

        /// <param name="parse">The verb's parsed options.</param>
        /// <param name="createContainer">Create a missing Azure container.</param>
        /// <param name="createDirectory">Whether a missing local directory may be created (by the replica's creation); null for a verb that creates nothing.</param>
        public IReplicaTarget Create(ParseResult parse, bool createContainer = false, bool? createDirectory = null)
        {
            if (parse.GetValue(_directory) is { } directory)
            {
                if (parse.GetValue(_connectionString) is not null || parse.GetValue(_container) is not null || parse.GetValue(_blob) is not null)
                {
                    throw new ArgumentException("--target takes the place of --connection-string, --container and --blob; give one or the other.");
                }

                DiskFormat? format = parse.GetValue(_replicaFormat) switch { "raw" => DiskFormat.Raw, "vhdx" => DiskFormat.Vhdx, "vhd" => DiskFormat.Vhd, _ => null };
                var local = new LocalDirectoryTarget(directory, new LocalDirectoryTargetOptions { ReplicaFormat = format });
                NewDirectory = Directory.Exists(local.Location) ? null : local.Location;
                if (createDirectory != true && NewDirectory is not null)
                {
                    throw new ArgumentException(createDirectory is null
                        ? $"{local.Location}: no such directory."
                        : $"{local.Location}: no such directory (pass --create to make a new site there).");
                }

                return local;
            }

            if (parse.GetValue(_replicaFormat) is not null)
            {
                throw new ArgumentException("--replica-format applies to a local --target only (an Azure replica is always a fixed VHD).");
            }

            string connectionString = parse.GetValue(_connectionString) ?? Environment.GetEnvironmentVariable(ConnectionStringVariable)
                ?? throw new ArgumentException($"Give --target DIR, or --container and --blob with --connection-string (or ${ConnectionStringVariable}).");
            string container = parse.GetValue(_container) ?? throw new ArgumentException("--container is required with Azure.");
            string blob = parse.GetValue(_blob) ?? throw new ArgumentException("--blob is required with Azure.");
            if (createContainer)
            {
                try
                {
                    new Azure.Storage.Blobs.BlobContainerClient(connectionString, container).CreateIfNotExists();
                }
                catch (Azure.RequestFailedException ex)
                {
                    // The service's message can echo the request's signature: report the status and code only.
                    throw new ReplicationException(ReplicationErrorCode.TargetUnavailable, false, $"creating container '{container}' failed: HTTP {ex.Status} {ex.ErrorCode}.");
                }
            }

            return new AzurePageBlobTarget(connectionString, container, blob);
        }
    }
}
