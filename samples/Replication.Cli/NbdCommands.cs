using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Nbd;

namespace Replication.Cli;

/// <summary>The <c>repl nbd</c> verbs: serve a disk over the Network Block Device protocol, recording every write.</summary>
internal static class NbdCommands
{
    public static Command Build()
    {
        var nbd = new Command("nbd", "Serve disks to NBD clients (QEMU/KVM, qemu-img, nbdcopy, the Linux nbd driver).");
        nbd.Subcommands.Add(Serve());
        return nbd;
    }

    private static Command Serve()
    {
        var disk = new Argument<string>("disk") { Description = "The disk to export (raw, VHD or VHDX)." };
        var logs = new Option<string?>("--logs") { Description = "Folder of the HRL change logs (default: <disk>.logs); recovered after a crash." };
        var listen = new Option<string?>("--listen") { Description = "TCP address:port to listen on (default 127.0.0.1:10809; port 0 picks one)." };
        var socket = new Option<string?>("--socket") { Description = "Listen on this Unix domain socket instead of TCP; the file must not exist." };
        var export = new Option<string?>("--export") { Description = "Export name (default: the disk's file name); clients asking for the default export get it too." };
        var readOnly = new Option<bool>("--read-only") { Description = "Refuse writes; the disk is opened read-only and nothing is tracked." };
        var rotate = new Option<string?>("--rotate-interval") { Description = "Seal the active log and start the next this often (500ms, 30s, 5m, 1h) while clients write." };
        var maxConnections = new Option<int>("--max-connections") { Description = "Connections served at once (1-65536).", DefaultValueFactory = _ => 16 };
        var command = new Command(
            "serve",
            "Export a disk over NBD until SIGINT or SIGTERM; every write, trim and zeroing is recorded in HRL logs. On a signal: stop accepting, finish requests in flight, flush, seal the log, exit.")
        {
            disk, logs, listen, socket, export, readOnly, rotate, maxConnections,
        };
        command.SetHandler(async (parse, cancellationToken) =>
        {
            bool json = parse.GetValue(CliCommand.Json);
            string path = Path.GetFullPath(parse.GetValue(disk)!);
            string name = parse.GetValue(export) ?? Path.GetFileName(path);
            if (!NbdExport.IsValidName(name))
            {
                throw new ArgumentException($"'{name}' is not a valid export name: 1 to {NbdExport.MaxNameLength} UTF-8 bytes, no spaces or control characters (choose one with --export).");
            }

            EndPoint endPoint = EndPointOf(parse.GetValue(listen), parse.GetValue(socket));
            TimeSpan? interval = parse.GetValue(rotate) is { } text ? Durations.Parse(text) : null;
            string logFolder = Path.GetFullPath(parse.GetValue(logs) ?? path + ".logs");
            var options = new NbdServerOptions { EndPoints = [endPoint], MaxConnections = parse.GetValue(maxConnections) };

            await using Served served = Open(path, logFolder, parse.GetValue(readOnly));
            await using var server = new NbdServer([new NbdExport(name, served.Disk, parse.GetValue(readOnly))], options);
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            EndPoint bound = server.LocalEndPoints[0];
            Report("listening")
                .Add("uri", UriOf(bound, name))
                .Add("export", name)
                .Add("disk", path)
                .Add("size", served.Disk.VirtualSize)
                .Add("logs", served.Tracked is null ? null : logFolder)
                .Add("readOnly", parse.GetValue(readOnly))
                .Write(Console.Out, json);
            Console.Out.Flush();

            // SIGINT and SIGTERM cancel the verb's token (the program's one signal handler keeps the process alive until
            // the verb returns): stop accepting, finish what is in flight, seal the log, then exit.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task rotation = interval is { } every && served.Tracked is { } tracked
                ? RotateAsync(tracked, every, json, stop.Token)
                : Task.CompletedTask;
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // SIGINT or SIGTERM: shut down cleanly below.
            }

            await ShutdownAsync(server, served, rotation).ConfigureAwait(false);
            Report("stopped")
                .Add("logs", served.Tracked is null ? null : logFolder)
                .Add("sealedLogs", served.Tracked is null ? 0 : Directory.GetFiles(logFolder, "*.hrl").Length)
                .Write(Console.Out, json);
            Console.Out.Flush();
        });
        return command;
    }

    private static async Task ShutdownAsync(NbdServer server, Served served, Task rotation)
    {
        await rotation.ConfigureAwait(false);

        // Requests already read are finished and replied to; a client that stops reading its replies is cut off after 30 s.
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await server.StopAsync(drain.Token).ConfigureAwait(false);
        await served.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task RotateAsync(TrackedDisk tracked, TimeSpan every, bool json, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                SealedLog log = await tracked.RotateAsync(CancellationToken.None).ConfigureAwait(false);
                Report("rotated")
                    .Add("sequence", log.SequenceNumber)
                    .Add("path", log.Path)
                    .Add("records", log.RecordCount)
                    .Add("dataBytes", log.DataBytes)
                    .Add("seconds", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 3))
                    .Write(Console.Out, json);
                Console.Out.Flush();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the clean close seals the active log.
        }
    }

    private static JsonReport Report(string what) => new JsonReport().Add("event", what);

    private static Served Open(string path, string logFolder, bool readOnly)
    {
        if (readOnly)
        {
            return new Served(VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess), null);
        }

        VirtualDisk disk = VirtualDisk.Open(path);
        try
        {
            TrackedDisk tracked = TrackedDisk.Open(disk, logFolder);
            return new Served(tracked, tracked);
        }
        catch
        {
            disk.Dispose();
            throw;
        }
    }

    private static EndPoint EndPointOf(string? listen, string? socket)
    {
        if (listen is not null && socket is not null)
        {
            throw new ArgumentException("Give --listen or --socket, not both.");
        }

        if (socket is not null)
        {
            return new UnixDomainSocketEndPoint(Path.GetFullPath(socket));
        }

        if (listen is null)
        {
            return NbdServerOptions.DefaultEndPoint;
        }

        if (!IPEndPoint.TryParse(listen, out IPEndPoint? point) || !listen.Contains(':', StringComparison.Ordinal) || listen.EndsWith(':'))
        {
            throw new ArgumentException($"--listen '{listen}' is not an address:port (examples: 127.0.0.1:10809, [::1]:10809, 0.0.0.0:10809).");
        }

        return point;
    }

    private static string UriOf(EndPoint point, string name) => point switch
    {
        UnixDomainSocketEndPoint unix => $"nbd+unix:///{Uri.EscapeDataString(name)}?socket={unix}",
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"nbd://[{ip.Address}]:{ip.Port}/{Uri.EscapeDataString(name)}",
        IPEndPoint ip => $"nbd://{ip.Address}:{ip.Port}/{Uri.EscapeDataString(name)}",
        _ => point.ToString() ?? "",
    };

    /// <summary>The disk served, and the tracker when writes are recorded; disposing closes the tracker cleanly.</summary>
    private sealed class Served(IVirtualDisk disk, TrackedDisk? tracked) : IAsyncDisposable
    {
        public IVirtualDisk Disk { get; } = disk;

        public TrackedDisk? Tracked { get; } = tracked;

        public ValueTask DisposeAsync() => Disk.DisposeAsync();
    }
}
