using System.Buffers;
using System.Net;
using System.Net.Sockets;
using FsCheck;
using FsCheck.Xunit;
using Replication.Core.Nbd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Infrastructure.NbdTestClient;

namespace Replication.Core.Tests.Nbd;

/// <summary>
/// Random input for the request parser and for whole connections: the header reads the same from any split into
/// segments, and random bytes or random requests (any type, flags, offset, length, payload) never crash the server,
/// never make a connection hold more than its in-flight limit, and leave it serving.
/// </summary>
public sealed class NbdParserProperties
{
    private const int Size = 4 << 20;
    private const long Limit = 256 << 10;

    [Property(MaxTest = 300)]
    public void A_header_reads_the_same_from_one_span_and_from_any_split_into_segments(PositiveInt seed)
    {
        var random = new Random(seed.Get);
        byte[] bytes = new byte[random.Next(0, 80)];
        random.NextBytes(bytes);
        ReadOnlySequence<byte> sequence = Split(bytes, random);
        bool read = NbdRequestHeader.TryRead(sequence, out NbdRequestHeader header);
        Assert.Equal(bytes.Length >= NbdProtocol.RequestHeaderSize, read);
        if (read)
        {
            NbdRequestHeader expected = NbdRequestHeader.Read(bytes);
            Assert.Equal(
                (expected.Magic, expected.Flags, expected.Type, expected.Handle, expected.Offset, expected.Length),
                (header.Magic, header.Flags, header.Type, header.Handle, header.Offset, header.Length));
            byte[] written = new byte[NbdProtocol.RequestHeaderSize];
            header.WriteTo(written);
            Assert.Equal(bytes.AsSpan(0, NbdProtocol.RequestHeaderSize).ToArray(), written);
        }
    }

    [Property(MaxTest = 40)]
    public void Random_bytes_or_random_requests_never_crash_a_connection_or_exceed_its_limit(PositiveInt seed)
    {
        RunAsync(seed.Get).GetAwaiter().GetResult();
    }

    private static async Task RunAsync(int seed)
    {
        var random = new Random(seed);
        var options = new NbdServerOptions { EndPoints = [new IPEndPoint(IPAddress.Loopback, 0)], MaxRequestsInFlight = 8, MaxInFlightBytes = Limit, MaxPayloadSize = 64 << 10 };
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, options, seed: seed);
        int mode = random.Next(3);
        using (NbdTestClient client = server.Connect())
        {
            if (mode == 0)
            {
                // Bytes instead of the client flags and options.
                client.ReceiveExactly(18);
            }
            else
            {
                client.Handshake("disk", structured: mode == 2);
            }

            byte[] stream = mode == 0 ? RandomBytes(random, random.Next(1, 4096)) : RandomRequests(random);
            var reader = Task.Run(() => Drain(client.Socket));
            try
            {
                client.Send(stream);
                client.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The server closed first (a violation ends the session): allowed.
            }

            await reader;
        }

        foreach (NbdConnection connection in server.Server.Connections)
        {
            Assert.True(connection.PeakInFlightBytes <= Limit, $"seed {seed}: {connection.PeakInFlightBytes} bytes in flight");
        }

        Assert.True(server.Server.UnexpectedFaults == 0, $"seed {seed}: {server.Server.LastFault}");
        using NbdTestClient next = server.Connect();
        next.Handshake("disk");
        next.SendRequest(Read, 1, 0, 512);
        Assert.Equal(0U, next.ReadReply(512).Error);
    }

    /// <summary>Requests with a valid magic and anything else random (mostly small lengths, some huge), payloads as declared or cut short.</summary>
    private static byte[] RandomRequests(Random random)
    {
        using var stream = new MemoryStream();
        int count = random.Next(1, 60);
        byte[] header = new byte[28];
        for (int i = 0; i < count; i++)
        {
            ushort type = (ushort)(random.Next(10) == 0 ? random.Next(ushort.MaxValue) : random.Next(8));
            if (type == Disc && random.Next(4) != 0)
            {
                type = Read;
            }

            ushort flags = (ushort)(random.Next(4) == 0 ? random.Next(ushort.MaxValue) : random.Next(2));
            ulong offset = random.Next(4) switch
            {
                0 => (ulong)random.NextInt64(),
                1 => (ulong)(Size - (512 * random.Next(0, 4))),
                _ => (ulong)(random.Next(0, Size / 512) * 512L),
            };
            uint length = random.Next(5) switch
            {
                0 => (uint)random.NextInt64(0, uint.MaxValue + 1L),
                1 => (uint)random.Next(0, 70_000),
                _ => (uint)(random.Next(0, 130) * 512),
            };
            new NbdRequestHeader(RequestMagic, flags, type, (ulong)i, offset, length).WriteTo(header);
            stream.Write(header);
            if (type == Write)
            {
                int payload = (int)Math.Min(length, random.Next(8) == 0 ? random.Next(0, 70_000) : 70_000);
                stream.Write(RandomBytes(random, payload));
            }
        }

        if (random.Next(3) == 0)
        {
            stream.Write(RandomBytes(random, random.Next(1, 64)));
        }

        return stream.ToArray();
    }

    private static void Drain(Socket socket)
    {
        byte[] buffer = new byte[65536];
        try
        {
            while (socket.Receive(buffer) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // Reset by the server: the end of the session too.
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes, Random random)
    {
        Segment? first = null;
        Segment? last = null;
        int position = 0;
        do
        {
            int length = Math.Min(bytes.Length - position, random.Next(0, 12));
            var segment = new Segment(bytes.AsMemory(position, length));
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Append(segment);
            }

            last = segment;
            position += length;
        }
        while (position < bytes.Length);
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
