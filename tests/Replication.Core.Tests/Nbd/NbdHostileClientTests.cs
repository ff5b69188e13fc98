using System.Net;
using System.Net.Sockets;
using Replication.Core.Nbd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Infrastructure.NbdTestClient;

namespace Replication.Core.Tests.Nbd;

/// <summary>
/// Clients that break the protocol or try to exhaust the server: each gets an NBD error or a disconnect; the server
/// does not crash, holds no more than its limits, and keeps serving the other clients.
/// </summary>
public sealed class NbdHostileClientTests
{
    private const int Size = 8 << 20;

    private static NbdServerOptions Loopback(int maxConnections = 16, int maxRequests = 64, long maxInFlight = 64L << 20, int maxPayload = 32 << 20, TimeSpan? handshakeTimeout = null) =>
        new()
        {
            EndPoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            MaxConnections = maxConnections,
            MaxRequestsInFlight = maxRequests,
            MaxInFlightBytes = maxInFlight,
            MaxPayloadSize = maxPayload,
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(30),
        };

    [Theory]
    [InlineData("garbage instead of client flags")]
    [InlineData("unknown client flag")]
    [InlineData("bad option magic")]
    [InlineData("closed mid option")]
    [InlineData("bad request magic")]
    [InlineData("huge write")]
    [InlineData("closed mid payload")]
    public async Task A_client_breaking_the_protocol_is_disconnected_and_others_are_served(string how)
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        using NbdTestClient bystander = server.Connect();
        bystander.Handshake("disk");

        using (NbdTestClient client = server.Connect())
        {
            switch (how)
            {
                case "garbage instead of client flags":
                    client.ReceiveExactly(18);
                    client.Send("GET / HTTP/1.1\r\n\r\n"u8);
                    break;
                case "unknown client flag":
                    client.Greet(0x80000001);
                    break;
                case "bad option magic":
                    client.Greet();
                    client.Send(new byte[16]);
                    break;
                case "closed mid option":
                    client.Greet();
                    client.SendOption(OptGo, GoData("disk").AsSpan(0, 3), declaredLength: 10);
                    client.Socket.Shutdown(SocketShutdown.Send);
                    break;
                case "bad request magic":
                    client.Handshake("disk");
                    client.SendRequest(Read, 1, 0, 512, magic: 0x12560953);
                    break;
                case "huge write":
                    client.Handshake("disk");
                    client.SendRequest(Write, 1, 0, uint.MaxValue);
                    break;
                case "closed mid payload":
                    client.Handshake("disk");
                    client.SendRequest(Write, 1, 0, 65536, payload: new byte[1000]);
                    client.Socket.Shutdown(SocketShutdown.Send);
                    break;
            }

            Assert.True(client.ServerClosed(), how);
        }

        bystander.SendRequest(Read, 1, 0, 4096);
        Assert.Equal(server.Start.AsSpan(0, 4096).ToArray(), bystander.ReadReply(4096).Data);
        Assert.Equal(0, server.Server.UnexpectedFaults);
        Assert.Equal(server.Start, server.DiskBytes());
    }

    [Fact]
    public async Task Huge_option_data_is_discarded_unbuffered_and_refused_and_negotiation_goes_on()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        using NbdTestClient client = server.Connect();
        client.Greet();
        byte[] junk = new byte[1 << 20];
        client.SendOption(0x77, junk);
        Assert.Equal(RepErrTooBig, client.ReadOptionReply(0x77).Type);
        client.SendOption(OptGo, GoData("disk"));
        Assert.Equal(RepInfo, client.ReadOptionReply(OptGo).Type);
    }

    [Fact]
    public async Task A_silent_client_is_closed_when_the_handshake_times_out()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, Loopback(handshakeTimeout: TimeSpan.FromMilliseconds(1)));
        using NbdTestClient client = server.Connect();
        client.ReceiveExactly(18);
        Assert.True(client.ServerClosed());
        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Fact]
    public async Task A_client_that_stops_reading_replies_gets_backpressure_and_the_server_holds_at_most_its_limit()
    {
        const long limit = 1 << 20;
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, Loopback(maxRequests: 1024, maxInFlight: limit, maxPayload: 64 << 10));
        using NbdTestClient bystander = server.Connect();
        bystander.Handshake("disk");

        NbdConnection[] before = server.Server.Connections;
        var hostile = server.Connect();
        hostile.Socket.ReceiveBufferSize = 4096;
        hostile.Handshake("disk");
        NbdConnection connection = Assert.Single(server.Server.Connections.Except(before));

        // 4096 reads of 64 KiB ask for 256 MiB of replies; the client never reads one.
        var flood = Task.Run(() =>
        {
            try
            {
                for (ulong i = 0; i < 4096; i++)
                {
                    hostile.SendRequest(Read, i, i % 128 * 65536, 65536);
                }
            }
            catch (SocketException)
            {
                // The test closes the socket while this thread is blocked sending: what a stuck client would see.
            }
            catch (ObjectDisposedException)
            {
            }
        });

        await connection.FirstBlocked;
        Assert.InRange(connection.PeakInFlightBytes, 65536, limit);

        // Meanwhile another client is served.
        byte[] data = NbdProtocolTests.TrackingData(4, 65536);
        bystander.SendRequest(Write, 1, 65536, 65536, payload: data);
        Assert.Equal(0U, bystander.ReadReply().Error);
        bystander.SendRequest(Read, 2, 65536, 65536);
        Assert.Equal(data, bystander.ReadReply(65536).Data);

        hostile.Dispose();
        await flood;
        Assert.InRange(connection.PeakInFlightBytes, 65536, limit);
        await server.Server.StopAsync();
        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_closed_and_those_within_it_keep_working()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, Loopback(maxConnections: 4, handshakeTimeout: Timeout.InfiniteTimeSpan));
        using NbdTestClient first = server.Connect();
        first.Handshake("disk");
        var idle = new List<NbdTestClient>();
        for (int i = 0; i < 3; i++)
        {
            NbdTestClient c = server.Connect();
            c.ReceiveExactly(18);
            idle.Add(c);
        }

        var flood = new List<NbdTestClient>();
        for (int i = 0; i < 200; i++)
        {
            flood.Add(server.Connect());
        }

        Assert.All(flood, c => Assert.True(c.ServerClosed()));
        Assert.Equal(200, server.Server.RejectedConnections);

        first.SendRequest(Read, 1, 0, 4096);
        Assert.Equal(server.Start.AsSpan(0, 4096).ToArray(), first.ReadReply(4096).Data);
        foreach (NbdTestClient c in idle.Concat(flood))
        {
            c.Dispose();
        }

        Assert.Equal(0, server.Server.UnexpectedFaults);
    }
}
