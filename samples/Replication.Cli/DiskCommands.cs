using System.CommandLine;
using Replication.Core.Disks;
using Replication.Core.Transfer;

namespace Replication.Cli;

/// <summary>The <c>repl disk</c> verbs: info, create, convert.</summary>
internal static class DiskCommands
{
    public static Command Build()
    {
        var disk = new Command("disk", "Inspect, create and convert virtual disks (raw, VHD, VHDX).");
        disk.Subcommands.Add(Info());
        disk.Subcommands.Add(Create());
        disk.Subcommands.Add(Convert());
        DiskSyncCommands.AddTo(disk);
        return disk;
    }

    private static Command Info()
    {
        var path = new Argument<string>("path") { Description = "The disk image; its format is detected from its content." };
        var command = new Command("info", "Show a disk's format, type, sizes, parent and DataWriteGuid.") { path };
        command.SetHandler((parse, _) =>
        {
            using VirtualDisk disk = VirtualDisk.Open(parse.GetValue(path)!, DiskOpenOptions.ReadOnlyAccess);
            Describe(disk).Write(Console.Out, parse.GetValue(CliCommand.Json));
            return Task.CompletedTask;
        });
        return command;
    }

    private static Command Create()
    {
        var path = new Argument<string>("path") { Description = "The file to create; it must not exist." };
        Option<long> size = CliCommand.SizeOption("--size", "Virtual size (512, 64KiB, 1GiB); a differencing disk takes its parent's when omitted.", required: false);
        var format = FormatOption(required: true);
        var type = new Option<string?>("--type") { Description = "fixed, dynamic or differencing (default: fixed for raw, dynamic otherwise)." };
        type.AcceptOnlyFromAmong("fixed", "dynamic", "differencing");
        var parent = new Option<string?>("--parent") { Description = "Parent of a differencing disk." };
        Option<long> blockSize = CliCommand.SizeOption("--block-size", "Block size of a VHD or VHDX (default: VHD 2MiB, VHDX 32MiB).", required: false);
        var sectorSize = new Option<int>("--logical-sector-size") { Description = "512 or 4096 (VHDX only).", DefaultValueFactory = _ => 512 };
        var azure = new Option<bool>("--azure") { Description = "Round the size up to a whole MiB, as Azure requires of a fixed VHD." };
        var command = new Command("create", "Create a raw, VHD or VHDX disk.") { path, size, format, type, parent, blockSize, sectorSize, azure };
        command.SetHandler((parse, _) =>
        {
            string kind = parse.GetValue(format)!;
            var options = new DiskCreateOptions
            {
                Format = ParseFormat(kind),
                Type = ParseType(parse.GetValue(type) ?? (kind == "raw" ? "fixed" : "dynamic")),
                VirtualSize = parse.GetValue(size),
                ParentPath = parse.GetValue(parent),
                BlockSize = parse.GetValue(blockSize) is > 0 and var b ? checked((int)b) : null,
                LogicalSectorSize = parse.GetValue(sectorSize),
                RoundUpToMiB = parse.GetValue(azure),
            };
            using VirtualDisk disk = VirtualDisk.Create(parse.GetValue(path)!, options);
            disk.Flush();
            Describe(disk).Write(Console.Out, parse.GetValue(CliCommand.Json));
            return Task.CompletedTask;
        });
        return command;
    }

    private static Command Convert()
    {
        var source = new Argument<string>("source") { Description = "The disk to read (any format)." };
        var destination = new Argument<string>("destination") { Description = "The file to create; it must not exist." };
        var format = FormatOption(required: true);
        var type = new Option<string?>("--type") { Description = "fixed or dynamic (default: dynamic for VHD/VHDX, fixed for raw)." };
        type.AcceptOnlyFromAmong("fixed", "dynamic");
        Option<long> blockSize = CliCommand.SizeOption("--block-size", "Block size of a VHD or VHDX output.", required: false);
        var azure = new Option<bool>("--azure") { Description = "Round the size up to a whole MiB (Azure fixed VHD)." };
        var command = new Command("convert", "Copy a disk into a new file of another format or type; only allocated, non-zero data is written.")
        {
            source, destination, format, type, blockSize, azure,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            string kind = parse.GetValue(format)!;
            DiskFormat outputFormat = ParseFormat(kind);
            string? requestedType = parse.GetValue(type);
            DiskType outputType = requestedType is null ? (outputFormat == DiskFormat.Raw ? DiskType.Fixed : DiskType.Dynamic) : ParseType(requestedType);
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            using VirtualDisk input = VirtualDisk.Open(parse.GetValue(source)!, DiskOpenOptions.ReadOnlyAccess);
            var options = new DiskCreateOptions
            {
                Format = outputFormat,
                Type = outputType,
                VirtualSize = input.VirtualSize,
                BlockSize = parse.GetValue(blockSize) is > 0 and var b ? checked((int)b) : null,
                LogicalSectorSize = outputFormat == DiskFormat.Vhdx ? input.LogicalSectorSize : 512,
                RoundUpToMiB = parse.GetValue(azure),
            };
            if (outputFormat != DiskFormat.Vhdx && input.LogicalSectorSize != 512)
            {
                throw new ArgumentException($"{input.FilePath}: a disk with {input.LogicalSectorSize}-byte sectors can only be converted to VHDX.");
            }

            TransferResult result = await new DiskConverter().ConvertAsync(input, parse.GetValue(destination)!, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            new JsonReport()
                .Add("source", input.FilePath)
                .Add("destination", Path.GetFullPath(parse.GetValue(destination)!))
                .Add("format", kind)
                .Add("type", outputType.ToString().ToLowerInvariant())
                .Add("virtualSize", input.VirtualSize)
                .Add("bytesRead", result.BytesRead)
                .Add("bytesWritten", result.BytesSent)
                .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                .Write(Console.Out, parse.GetValue(CliCommand.Json));
        });
        return command;
    }

    internal static JsonReport Describe(IVirtualDisk disk) => new JsonReport()
        .Add("path", disk.FilePath)
        .Add("format", disk.Format.ToString().ToLowerInvariant())
        .Add("type", disk.DiskType.ToString().ToLowerInvariant())
        .Add("virtualSize", disk.VirtualSize)
        .Add("logicalSectorSize", disk.LogicalSectorSize)
        .Add("physicalSectorSize", disk.PhysicalSectorSize)
        .Add("blockSize", disk.BlockSize)
        .Add("allocatedBytes", disk.AllocatedBytes)
        .Add("parent", disk.Parent?.FilePath)
        .Add("dataWriteGuid", disk.DataWriteGuid);

    private static Option<string> FormatOption(bool required)
    {
        var format = new Option<string>("--format") { Description = "raw, vhd or vhdx.", Required = required };
        format.AcceptOnlyFromAmong("raw", "vhd", "vhdx");
        return format;
    }

    private static DiskFormat ParseFormat(string text) => text switch
    {
        "raw" => DiskFormat.Raw,
        "vhd" => DiskFormat.Vhd,
        _ => DiskFormat.Vhdx,
    };

    private static DiskType ParseType(string text) => text switch
    {
        "fixed" => DiskType.Fixed,
        "differencing" => DiskType.Differencing,
        _ => DiskType.Dynamic,
    };
}
