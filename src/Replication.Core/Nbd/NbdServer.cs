using System.Net;
using System.Net.Sockets;
using Replication.Core.IO;

namespace Replication.Core.Nbd;

/// <summary>
/// A Network Block Device server (fixed newstyle protocol, doc/proto.md of NetworkBlockDevice/nbd) that exports
/// <see cref="Disks.IVirtualDisk"/>s over TCP and Unix domain sockets, so that QEMU/KVM, qemu-img, qemu-io, the Linux
/// kernel's nbd client, libnbd's tools or fio can read and write them. Exporting a
/// <see cref="ChangeTracking.TrackedDisk"/> records every client write in its HRL logs.
/// </summary>
/// <remarks>
/// <para>
/// <b>Protocol.</b> Options NBD_OPT_GO, NBD_OPT_INFO (with NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE, NBD_INFO_NAME),
/// NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, NBD_OPT_ABORT and NBD_OPT_STRUCTURED_REPLY; NBD_OPT_STARTTLS is refused with
/// NBD_REP_ERR_POLICY (no TLS), every other option with NBD_REP_ERR_UNSUP. Commands NBD_CMD_READ, WRITE, FLUSH, TRIM,
/// WRITE_ZEROES and DISC, with NBD_CMD_FLAG_FUA. The minimum block size advertised is the disk's logical sector size
/// and is enforced (<c>EINVAL</c>); the maximum payload is <see cref="NbdServerOptions.MaxPayloadSize"/>.
/// </para>
/// <para>
/// <b>Durability.</b> A write is replied to once the disk took it; NBD_CMD_FLUSH, and a request with FUA, are replied
/// to only after the disk's flush returned, which for a tracked disk means the log and the disk are durable (group
/// commit). Every connection to an export uses the same disk instance, so a flush covers the writes completed on every
/// connection: the server advertises NBD_FLAG_CAN_MULTI_CONN. TRIM and WRITE_ZEROES make the range read as zeros (on a
/// tracked disk, recorded as writes of zeros), so a replica applying the logs equals the source.
/// </para>
/// <para>
/// <b>Concurrency and memory.</b> Requests of a connection run concurrently and are replied to as they complete (the
/// protocol matches replies by the client's cookie). A connection holds at most
/// <see cref="NbdServerOptions.MaxRequestsInFlight"/> requests and <see cref="NbdServerOptions.MaxInFlightBytes"/> of
/// payloads and read data; beyond either it stops reading from the client (TCP backpressure). A client that breaks the
/// protocol gets an NBD error, or is disconnected when the stream can no longer be followed; other clients are not
/// affected. Beyond <see cref="NbdServerOptions.MaxConnections"/> connections are closed as they arrive.
/// </para>
/// </remarks>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly Dictionary<NbdConnection, Task> _connections = [];
    private readonly List<EndPoint> _localEndPoints = [];
    private readonly List<string> _socketFiles = [];
    private readonly CancellationTokenSource _stopAccepting = new();
    private bool _started;
    private bool _stopped;
    private long _faults;
    private long _rejected;

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="exports">The exports, one name each; the first is also the default export (asked for by the empty name).</param>
    /// <param name="options">End points and limits; <see cref="NbdServerOptions.Default"/> when null.</param>
    /// <param name="timeProvider">The clock of the handshake timeout; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="exports"/> is null or holds null.</exception>
    /// <exception cref="ArgumentException">No export, two with the same name, or invalid options.</exception>
    public NbdServer(IEnumerable<NbdExport> exports, NbdServerOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(exports);
        ExportsArray = [.. exports];
        if (ExportsArray.Length == 0)
        {
            throw new ArgumentException("A server needs at least one export.", nameof(exports));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (NbdExport export in ExportsArray)
        {
            ArgumentNullException.ThrowIfNull(export, nameof(exports));
            if (!names.Add(export.Name))
            {
                throw new ArgumentException($"Two exports are named '{export.Name}'.", nameof(exports));
            }
        }

        options ??= NbdServerOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        Options = options with { Clock = timeProvider ?? TimeProvider.System };
    }

    /// <summary>The exports, in the order given.</summary>
    public IReadOnlyList<NbdExport> Exports => ExportsArray;

    /// <summary>The options the server runs with.</summary>
    public NbdServerOptions Options { get; }

    /// <summary>The end points listened on, once <see cref="StartAsync"/> returned (a TCP port 0 replaced by the port chosen).</summary>
    public IReadOnlyList<EndPoint> LocalEndPoints
    {
        get
        {
            lock (_gate)
            {
                return [.. _localEndPoints];
            }
        }
    }

    /// <summary>Connections open now (in negotiation or transmission).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    internal NbdExport[] ExportsArray { get; }

    /// <summary>Failures that were not the client's or the disk's (bugs), each of which ended its connection (for tests).</summary>
    internal long UnexpectedFaults => Interlocked.Read(ref _faults);

    /// <summary>The last of <see cref="UnexpectedFaults"/>.</summary>
    internal Exception? LastFault { get; private set; }

    /// <summary>Connections closed on arrival because <see cref="NbdServerOptions.MaxConnections"/> were open.</summary>
    internal long RejectedConnections => Interlocked.Read(ref _rejected);

    /// <summary>Connections open now (for tests).</summary>
    internal NbdConnection[] Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections.Keys];
            }
        }
    }

    /// <summary>
    /// Binds and listens on every end point of <see cref="NbdServerOptions.EndPoints"/>, then accepts connections in the
    /// background. When the returned task completes, clients can connect.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server was already started.</exception>
    /// <exception cref="IOException">An end point cannot be listened on (in use, no permission, the socket file exists); nothing listens then.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_started)
            {
                throw new InvalidOperationException("The server is already started.");
            }

            _started = true;
        }

        var listeners = new List<Socket>();
        var files = new List<string>();
        try
        {
            foreach (EndPoint point in Options.EndPoints)
            {
                Socket listener = point is UnixDomainSocketEndPoint
                    ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(point.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                listeners.Add(listener);
                try
                {
                    listener.Bind(point);
                    if (point is UnixDomainSocketEndPoint)
                    {
                        files.Add(point.ToString()!);
                    }

                    listener.Listen(Math.Min(Options.MaxConnections, 512));
                }
                catch (SocketException ex)
                {
                    throw new IOException($"{point}: cannot listen: {ex.Message}", ex);
                }
            }
        }
        catch (Exception)
        {
            foreach (Socket listener in listeners)
            {
                listener.Dispose();
            }

            DeleteSocketFiles(files);
            throw;
        }

        lock (_gate)
        {
            _listeners.AddRange(listeners);
            _socketFiles.AddRange(files);
            foreach (Socket listener in listeners)
            {
                _localEndPoints.Add(listener.LocalEndPoint!);
                _acceptLoops.Add(AcceptLoopAsync(listener));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops: closes the listeners, lets every connection finish the requests it already read and send their replies
    /// (new requests are not read), closes the connections, then flushes every writable export's disk. The disks stay open.
    /// </summary>
    /// <param name="cancellationToken">When cancelled, connections still finishing are closed at once (replies not yet sent are dropped; the flush still runs).</param>
    /// <exception cref="IOException">A disk's final flush failed.</exception>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        Task[] connections;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            foreach (Socket listener in _listeners)
            {
                listener.Dispose();
            }

            connections = [.. _connections.Values];
            foreach (NbdConnection connection in _connections.Keys)
            {
                connection.RequestStop();
            }
        }

        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        DeleteSocketFiles(_socketFiles);
        try
        {
            await Task.WhenAll(connections).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            foreach (NbdConnection connection in Connections)
            {
                connection.Abort();
            }

            await Task.WhenAll(connections).ConfigureAwait(false);
        }

        foreach (NbdExport export in ExportsArray)
        {
            if (!export.IsReadOnly)
            {
                await export.Disk.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        _stopAccepting.Dispose();
    }

    /// <summary>Stops the server as <see cref="StopAsync"/> does, waiting for connections to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        bool started;
        lock (_gate)
        {
            started = _started;
            _stopped |= !started;
        }

        if (started)
        {
            await StopAsync().ConfigureAwait(false);
        }
    }

    internal void RecordFault(Exception exception)
    {
        LastFault = exception;
        Interlocked.Increment(ref _faults);
    }

    internal void OnConnectionClosed(NbdConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        CancellationToken stopping = _stopAccepting.Token;
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && stopping.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException)
            {
                // The connection failed before it was accepted (reset, aborted): it is the client's, not the listener's.
                continue;
            }

            Accept(client);
        }
    }

    private void Accept(Socket client)
    {
        if (client.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            client.NoDelay = true;
        }

        lock (_gate)
        {
            if (_stopped || _connections.Count >= Options.MaxConnections)
            {
                Interlocked.Increment(ref _rejected);
                client.Dispose();
                return;
            }

            var connection = new NbdConnection(this, client);
            _connections.Add(connection, Task.Run(connection.RunAsync));
        }
    }

    private static void DeleteSocketFiles(List<string> files)
    {
        foreach (string file in files)
        {
            File.Delete(file);
        }

        files.Clear();
    }
}
