using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Replication.Core.Nbd;

/// <summary>
/// One client connection: the fixed newstyle handshake, then the transmission phase. A receiver parses requests from
/// a <see cref="PipeReader"/> over the socket (header framed in place, a write's payload copied into a pooled buffer),
/// hands each to a worker of its own request slot, and stops reading while the connection's slots or in-flight byte
/// budget are used up. Workers run requests concurrently against the export's disk and queue their replies; whichever
/// worker finds the sender idle sends every queued reply in one gathered send, so replies go out in completion order.
/// </summary>
internal sealed partial class NbdConnection
{
    private readonly NbdServer _server;
    private readonly NbdServerOptions _options;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly CancellationTokenSource _handshakeStop;
    private volatile bool _stopping;
    private volatile bool _broken;

    public NbdConnection(NbdServer server, Socket socket)
    {
        _server = server;
        _options = server.Options;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 << 10, minimumReadSize: 64 << 10, leaveOpen: true));
        _handshakeStop = _options.HandshakeTimeout == Timeout.InfiniteTimeSpan
            ? new CancellationTokenSource()
            : new CancellationTokenSource(_options.HandshakeTimeout, _options.Clock);
        int slots = _options.MaxRequestsInFlight;
        _idle = new Stack<NbdRequest>(slots);
        _all = new List<NbdRequest>(slots);
        _sendQueue = new Queue<NbdRequest>(slots);
        _batch = new NbdRequest[slots];
        _segments = new List<ArraySegment<byte>>(2 * slots);
    }

    /// <summary>The export chosen in the handshake; null before.</summary>
    public NbdExport? Export { get; private set; }

    /// <summary>The most bytes of payloads and read data this connection held at once (for tests).</summary>
    internal long PeakInFlightBytes { get; private set; }

    /// <summary>Runs the connection to its end; never throws (failures close the connection; unexpected ones are recorded by the server).</summary>
    public async Task RunAsync()
    {
        try
        {
            NbdExport? export = await HandshakeAsync(_handshakeStop.Token).ConfigureAwait(false);
            if (export is not null)
            {
                Export = export;
                await _handshakeStop.CancelAsync().ConfigureAwait(false);
                await ReceiveAsync(export).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsDisconnect(ex))
        {
            // The peer went away, broke the protocol in a way that ends the session, or the handshake timed out.
        }
        catch (Exception ex)
        {
            _server.RecordFault(ex);
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops taking requests: requests already read are completed and replied to, then the connection closes.</summary>
    public void RequestStop()
    {
        _stopping = true;
        _handshakeStop.Cancel();
        _input.CancelPendingRead();
        _resources.Set();
    }

    /// <summary>Closes the socket at once: replies not yet sent are dropped, requests in flight still finish on the disk.</summary>
    public void Abort()
    {
        _broken = true;
        RequestStop();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private static bool IsDisconnect(Exception ex) =>
        ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException;

    private async Task CloseAsync()
    {
        await DrainAsync().ConfigureAwait(false);
        foreach (NbdRequest request in _all)
        {
            request.Start.Set(false);
        }

        foreach (NbdRequest request in _all)
        {
            await request.Worker.ConfigureAwait(false);
        }

        await _input.CompleteAsync().ConfigureAwait(false);

        // Cancelled rather than disposed (which releases its timer too): a concurrent RequestStop may still cancel it.
        _handshakeStop.Cancel();
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _sender.Dispose();
        _server.OnConnectionClosed(this);
    }

    private static byte[] Rent(long length) => ArrayPool<byte>.Shared.Rent((int)length);
}
