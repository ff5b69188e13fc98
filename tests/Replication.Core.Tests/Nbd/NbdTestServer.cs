using System.Net;
using System.Net.Sockets;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Nbd;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Nbd;

/// <summary>
/// An <see cref="NbdServer"/> on a loopback port (or a Unix socket) exporting a raw disk tracked in HRL logs, in a temp
/// folder. The starting content is kept, so a test can apply the sealed logs to it and compare.
/// </summary>
internal sealed class NbdTestServer : IAsyncDisposable
{
    private readonly TempDirectory _temp = new();

    private NbdTestServer()
    {
    }

    public string DiskPath => _temp.File("disk.img");

    public string LogPath => _temp.File("logs");

    public byte[] Start { get; private set; } = [];

    public TrackedDisk Tracked { get; private set; } = null!;

    public NbdServer Server { get; private set; } = null!;

    public EndPoint EndPoint => Server.LocalEndPoints[0];

    public string Uri => EndPoint is IPEndPoint ip ? $"nbd://127.0.0.1:{ip.Port}/disk" : $"nbd+unix:///disk?socket={EndPoint}";

    public TempDirectory Temp => _temp;

    public static async Task<NbdTestServer> StartAsync(int size = 8 << 20, NbdServerOptions? options = null, bool unixSocket = false, int seed = 1, Func<IVirtualDisk, IVirtualDisk>? wrap = null)
    {
        var server = new NbdTestServer();
        server.Start = DiskKinds.ScatteredContent(size, seed);
        await File.WriteAllBytesAsync(server.DiskPath, server.Start);
        server.Tracked = TrackedDisk.Open(VirtualDisk.Open(server.DiskPath), server.LogPath);
        EndPoint point = unixSocket ? new UnixDomainSocketEndPoint(server._temp.File("nbd.sock")) : new IPEndPoint(IPAddress.Loopback, 0);
        options ??= new NbdServerOptions { EndPoints = [point] };
        if (options.EndPoints[0] is IPEndPoint { Port: 10809 })
        {
            options = options with { EndPoints = [point] };
        }

        IVirtualDisk exported = wrap is null ? server.Tracked : wrap(server.Tracked);
        server.Server = new NbdServer([new NbdExport("disk", exported)], options);
        await server.Server.StartAsync();
        return server;
    }

    public NbdTestClient Connect() => NbdTestClient.Connect(EndPoint);

    /// <summary>Seals the active log and returns the bytes the starting disk holds once every sealed log is applied.</summary>
    public async Task<byte[]> ReplayLogsAsync()
    {
        await Tracked.RotateAsync();
        string replica = _temp.File("replica.img");
        await File.WriteAllBytesAsync(replica, Start);
        using (VirtualDisk target = VirtualDisk.Open(replica))
        {
            await new LogApplier().ApplyAsync([.. Tracked.PendingLogs.Select(l => l.Path)], target, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty });
        }

        return await File.ReadAllBytesAsync(replica);
    }

    public byte[] DiskBytes()
    {
        byte[] bytes = new byte[Tracked.VirtualSize];
        Tracked.Read(0, bytes);
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Tracked.DisposeAsync();
        _temp.Dispose();
    }
}
