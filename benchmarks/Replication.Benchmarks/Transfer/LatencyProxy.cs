using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// A loopback HTTP/1.1 forwarder that holds every request for a fixed delay before passing it on: a thin link's
/// round trip in front of Azurite. Requests are framed by their Content-Length; responses are copied as they come.
/// </summary>
internal sealed class LatencyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly TimeSpan _delay;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public LatencyProxy(IPEndPoint upstream, TimeSpan delay)
    {
        _upstream = upstream;
        _delay = delay;
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
                    await toServer.WriteAsync(buffer.AsMemory(0, headEnd + bodyInBuffer), _stop.Token);
                    long sent = bodyInBuffer;
                    int leftover = filled - headEnd - bodyInBuffer;
                    buffer.AsSpan(headEnd + bodyInBuffer, leftover).CopyTo(buffer);
                    filled = leftover;
                    while (sent < length)
                    {
                        int n = await fromClient.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        await toServer.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
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

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
