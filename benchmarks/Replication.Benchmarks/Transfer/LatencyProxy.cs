using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// A loopback HTTP/1.1 forwarder standing for a WAN link in front of Azurite: it holds every request for a fixed delay
/// before passing it on (the round trip), and when given a rate it paces each connection's upload to that many bytes
/// per second (a WAN link's per-connection window: one TCP stream cannot fill the link, several can). Requests are
/// framed by their Content-Length; responses are copied as they come.
/// </summary>
internal sealed class LatencyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly TimeSpan _delay;
    private readonly long _bytesPerSecond;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    /// <param name="upstream">Where requests go.</param>
    /// <param name="delay">Added to every request before it is forwarded.</param>
    /// <param name="bytesPerSecond">Each connection's upload rate, or 0 for no limit.</param>
    public LatencyProxy(IPEndPoint upstream, TimeSpan delay, long bytesPerSecond = 0)
    {
        _upstream = upstream;
        _delay = delay;
        _bytesPerSecond = bytesPerSecond;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(_upstream, _stop.Token);
                NetworkStream fromClient = client.GetStream();
                NetworkStream toServer = server.GetStream();
                Task back = server.GetStream().CopyToAsync(fromClient, _stop.Token);

                // Asynchronous, buffered framing: a synchronous byte-at-a-time header read would hold a thread-pool
                // thread per connection and starve concurrent requests on a small machine.
                byte[] buffer = new byte[1 << 20];
                int filled = 0;
                var pace = new Pace(_bytesPerSecond);
                while (true)
                {
                    int headEnd;
                    while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                    {
                        if (filled == buffer.Length)
                        {
                            return;
                        }

                        int n = await fromClient.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        filled += n;
                    }

                    headEnd += 4;
                    long length = 0;
                    foreach (string line in Encoding.ASCII.GetString(buffer, 0, headEnd).Split("\r\n"))
                    {
                        if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                        {
                            length = long.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                        }
                    }

                    await Task.Delay(_delay, _stop.Token);
                    int bodyInBuffer = (int)Math.Min(length, filled - headEnd);
                    await pace.SendAsync(toServer, buffer.AsMemory(0, headEnd + bodyInBuffer), _stop.Token);
                    long sent = bodyInBuffer;
                    int leftover = filled - headEnd - bodyInBuffer;
                    buffer.AsSpan(headEnd + bodyInBuffer, leftover).CopyTo(buffer);
                    filled = leftover;
                    while (sent < length)
                    {
                        int n = await fromClient.ReadAsync(buffer.AsMemory(0, (int)Math.Min(Pace.Chunk, length - sent)), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        await pace.SendAsync(toServer, buffer.AsMemory(0, n), _stop.Token);
                        sent += n;
                    }

                    if (back.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A closed connection ends its forwarding.
            }
        }
    }

    /// <summary>
    /// One connection's upload pacing: a byte may leave no earlier than the link, sending at the rate since it was
    /// last idle, would have sent it; each write is held until its last byte's time.
    /// </summary>
    private sealed class Pace(long bytesPerSecond)
    {
        /// <summary>Writes of at most 64 KiB, so pacing is smooth at a few MB/s.</summary>
        public const int Chunk = 64 << 10;

        private long _freeAt = Stopwatch.GetTimestamp();

        public async ValueTask SendAsync(NetworkStream to, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            for (int at = 0; at < data.Length; at += Chunk)
            {
                ReadOnlyMemory<byte> part = data.Slice(at, Math.Min(Chunk, data.Length - at));
                if (bytesPerSecond > 0)
                {
                    long now = Stopwatch.GetTimestamp();
                    _freeAt = Math.Max(_freeAt, now) + part.Length * Stopwatch.Frequency / bytesPerSecond;
                    TimeSpan wait = Stopwatch.GetElapsedTime(now, _freeAt);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellationToken);
                    }
                }

                await to.WriteAsync(part, cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
