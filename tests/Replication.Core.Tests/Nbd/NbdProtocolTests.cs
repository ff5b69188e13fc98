using System.Buffers.Binary;
using System.Text;
using Replication.Core.Nbd;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Infrastructure.NbdTestClient;

namespace Replication.Core.Tests.Nbd;

/// <summary>The handshake and the transmission phase as doc/proto.md specifies them, driven by a plain client.</summary>
public sealed class NbdProtocolTests
{
    private const int Size = 8 << 20;

    [Fact]
    public async Task Go_reports_size_flags_and_block_sizes_and_info_list_and_structured_reply_answer()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        using NbdTestClient client = server.Connect();
        ushort handshakeFlags = client.Greet();
        Assert.Equal(3, handshakeFlags);

        client.SendOption(OptList, []);
        (uint type, byte[] data) = client.ReadOptionReply(OptList);
        Assert.Equal(RepServer, type);
        Assert.Equal("disk", Encoding.UTF8.GetString(data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(data)));
        Assert.Equal(RepAck, client.ReadOptionReply(OptList).Type);

        client.SendOption(OptList, [1]);
        Assert.Equal(RepErrInvalid, client.ReadOptionReply(OptList).Type);

        client.SendOption(0x1234, new byte[100]);
        Assert.Equal(RepErrUnsup, client.ReadOptionReply(0x1234).Type);

        client.SendOption(OptStartTls, []);
        Assert.Equal(RepErrPolicy, client.ReadOptionReply(OptStartTls).Type);

        client.SendOption(OptInfo, GoData("nope", 3));
        Assert.Equal(RepErrUnknown, client.ReadOptionReply(OptInfo).Type);

        client.SendOption(OptInfo, [0, 0, 0, 9, 1]);
        Assert.Equal(RepErrInvalid, client.ReadOptionReply(OptInfo).Type);

        client.SendOption(OptStructuredReply, []);
        Assert.Equal(RepAck, client.ReadOptionReply(OptStructuredReply).Type);

        client.SendOption(OptInfo, GoData("disk", 3, 1));
        var infos = new Dictionary<ushort, byte[]>();
        while (true)
        {
            (type, data) = client.ReadOptionReply(OptInfo);
            if (type == RepAck)
            {
                break;
            }

            Assert.Equal(RepInfo, type);
            infos[BinaryPrimitives.ReadUInt16BigEndian(data)] = data;
        }

        Assert.Equal((ulong)Size, BinaryPrimitives.ReadUInt64BigEndian(infos[0].AsSpan(2)));
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(infos[0].AsSpan(10));
        // HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM, SEND_WRITE_ZEROES, SEND_DF (structured), CAN_MULTI_CONN; not read-only.
        Assert.Equal(0x1 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100, (int)flags);
        Assert.Equal(512U, BinaryPrimitives.ReadUInt32BigEndian(infos[3].AsSpan(2)));
        Assert.Equal(4096U, BinaryPrimitives.ReadUInt32BigEndian(infos[3].AsSpan(6)));
        Assert.Equal(32U << 20, BinaryPrimitives.ReadUInt32BigEndian(infos[3].AsSpan(10)));
        Assert.Equal("disk", Encoding.UTF8.GetString(infos[1].AsSpan(2)));

        // The empty name is the default export; GO enters transmission.
        client.SendOption(OptGo, GoData(""));
        Assert.Equal(RepInfo, client.ReadOptionReply(OptGo).Type);
        Assert.Equal(RepInfo, client.ReadOptionReply(OptGo).Type);
        Assert.Equal(RepAck, client.ReadOptionReply(OptGo).Type);
        client.SendRequest(Read, 7, 0, 4096);
        Reply reply = client.ReadReply(4096);
        Assert.Equal(7UL, reply.Handle);
        Assert.Equal(server.Start.AsSpan(0, 4096).ToArray(), reply.Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Export_name_option_enters_transmission_with_or_without_the_zero_padding(bool noZeroes)
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        using NbdTestClient client = server.Connect();
        client.Greet(noZeroes ? 3U : 1U);
        client.SendOption(OptExportName, "disk"u8);
        byte[] info = client.ReceiveExactly(noZeroes ? 10 : 134);
        Assert.Equal((ulong)Size, BinaryPrimitives.ReadUInt64BigEndian(info));
        Assert.All(info.Skip(10), b => Assert.Equal(0, b));
        client.SendRequest(Read, 1, 4096, 512);
        Assert.Equal(server.Start.AsSpan(4096, 512).ToArray(), client.ReadReply(512).Data);
        client.SendRequest(Disc, 2, 0, 0);
        Assert.True(client.ServerClosed());
    }

    [Fact]
    public async Task Abort_is_acknowledged_and_an_unknown_export_name_ends_the_session()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        using (NbdTestClient client = server.Connect())
        {
            client.Greet();
            client.SendOption(OptAbort, []);
            Assert.Equal(RepAck, client.ReadOptionReply(OptAbort).Type);
            Assert.True(client.ServerClosed());
        }

        using (NbdTestClient client = server.Connect())
        {
            client.Greet();
            client.SendOption(OptExportName, "missing"u8);
            Assert.True(client.ServerClosed());
        }

        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reads_writes_flush_fua_trim_and_write_zeroes_reach_the_disk_and_the_logs(bool structured)
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        byte[] model = (byte[])server.Start.Clone();
        using NbdTestClient client = server.Connect();
        (ulong size, ushort flags) = client.Handshake("disk", structured);
        Assert.Equal((ulong)Size, size);
        Assert.Equal(structured, (flags & 0x80) != 0);

        byte[] a = TrackingData(1, 65536);
        client.SendRequest(Write, 1, 1 << 20, (uint)a.Length, payload: a);
        Assert.Equal(0U, client.ReadReply().Error);
        a.CopyTo(model, 1 << 20);

        byte[] b = TrackingData(2, 512);
        client.SendRequest(Write, 2, Size - 512, 512, Fua, b);
        Assert.Equal(0U, client.ReadReply().Error);
        b.CopyTo(model, Size - 512);

        client.SendRequest(Trim, 3, 2 << 20, 3 << 20);
        Assert.Equal(0U, client.ReadReply().Error);
        model.AsSpan(2 << 20, 3 << 20).Clear();

        client.SendRequest(WriteZeroes, 4, 4096, 8192, (ushort)(Fua | NoHole));
        Assert.Equal(0U, client.ReadReply().Error);
        model.AsSpan(4096, 8192).Clear();

        client.SendRequest(Flush, 5, 0, 0);
        Assert.Equal(0U, client.ReadReply().Error);

        client.SendRequest(Read, 6, 0, 1 << 20, structured ? Df : (ushort)0);
        Reply read = client.ReadReply(1 << 20);
        Assert.Equal(6UL, read.Handle);
        Assert.Equal(model.AsSpan(0, 1 << 20).ToArray(), read.Data);

        client.SendRequest(Read, 7, 0, 0);
        Reply empty = client.ReadReply(0);
        Assert.Equal(0U, empty.Error);
        Assert.Empty(empty.Data);

        Assert.Equal(model, server.DiskBytes());
        Assert.Equal(model, await server.ReplayLogsAsync());
        client.SendRequest(Disc, 8, 0, 0);
        Assert.True(client.ServerClosed());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Invalid_requests_get_the_errors_of_the_spec_and_the_session_goes_on(bool structured)
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, new NbdServerOptions { MaxPayloadSize = 1 << 20, MaxInFlightBytes = 2 << 20 });
        using NbdTestClient client = server.Connect();
        client.Handshake("disk", structured);
        byte[] chunk = new byte[4096];

        // Past the end: a write gets ENOSPC (its payload is read and dropped), a read or trim EINVAL.
        client.SendRequest(Write, 1, Size - 2048, 4096, payload: chunk);
        Assert.Equal(ENoSpc, client.ReadReply().Error);
        client.SendRequest(Read, 2, Size, 512);
        Assert.Equal(EInval, client.ReadReply(512).Error);
        client.SendRequest(Trim, 3, ulong.MaxValue - 511, 512);
        Assert.Equal(EInval, client.ReadReply().Error);
        client.SendRequest(WriteZeroes, 4, Size - 512, 1024);
        Assert.Equal(ENoSpc, client.ReadReply().Error);

        // Unaligned to the 512-byte minimum block size.
        client.SendRequest(Write, 5, 100, 512, payload: chunk.AsSpan(0, 512));
        Assert.Equal(EInval, client.ReadReply().Error);
        client.SendRequest(Read, 6, 0, 100);
        Assert.Equal(EInval, client.ReadReply(100).Error);

        // Longer than the maximum payload: refused without reading (a read) or after discarding the payload (a write).
        client.SendRequest(Read, 7, 0, uint.MaxValue);
        Assert.Equal(structured ? EOverflow : EInval, client.ReadReply(0).Error);
        byte[] big = new byte[2 << 20];
        client.SendRequest(Write, 8, 0, (uint)big.Length, payload: big);
        Assert.Equal(EInval, client.ReadReply().Error);

        // Unknown command, unknown flag, a flush with an offset.
        client.SendRequest(42, 9, 0, 0);
        Assert.Equal(EInval, client.ReadReply().Error);
        client.SendRequest(Read, 10, 0, 512, flags: 0x40);
        Assert.Equal(EInval, client.ReadReply(512).Error);
        client.SendRequest(Flush, 11, 4096, 0);
        Assert.Equal(EInval, client.ReadReply().Error);

        // The session still works, and nothing was written.
        byte[] data = TrackingData(3, 4096);
        client.SendRequest(Write, 12, 8192, 4096, payload: data);
        Assert.Equal(0U, client.ReadReply().Error);
        client.SendRequest(Read, 13, 8192, 4096);
        Assert.Equal(data, client.ReadReply(4096).Data);
        byte[] model = (byte[])server.Start.Clone();
        data.CopyTo(model, 8192);
        Assert.Equal(model, server.DiskBytes());
        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Fact]
    public async Task A_read_only_export_refuses_writes_with_EPERM_and_advertises_it()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, wrap: d => d);
        await using var readOnly = new NbdServer([new NbdExport("ro", server.Tracked, readOnly: true)], new NbdServerOptions { EndPoints = [new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)] });
        await readOnly.StartAsync();
        using NbdTestClient client = NbdTestClient.Connect(readOnly.LocalEndPoints[0]);
        (_, ushort flags) = client.Handshake("ro");
        Assert.Equal(0x2, flags & 0x2);
        Assert.Equal(0, flags & 0x60);
        client.SendRequest(Write, 1, 0, 512, payload: new byte[512]);
        Assert.Equal(EPerm, client.ReadReply().Error);
        client.SendRequest(Trim, 2, 0, 512);
        Assert.Equal(EPerm, client.ReadReply().Error);
        client.SendRequest(Read, 3, 0, 512);
        Assert.Equal(server.Start.AsSpan(0, 512).ToArray(), client.ReadReply(512).Data);
        Assert.Equal(server.Start, server.DiskBytes());
    }

    [Fact]
    public async Task Replies_are_sent_as_requests_complete_not_in_request_order()
    {
        GatedDisk? gate = null;
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, wrap: d => gate = new GatedDisk(d, 1 << 20));
        using NbdTestClient client = server.Connect();
        client.Handshake("disk", structured: true);
        client.SendRequest(Read, 100, 1 << 20, 4096);
        await gate!.Entered;
        client.SendRequest(Read, 200, 0, 4096);
        Reply first = client.ReadReply(4096);
        Assert.Equal(200UL, first.Handle);
        gate.Open();
        Reply second = client.ReadReply(4096);
        Assert.Equal(100UL, second.Handle);
        Assert.Equal(server.Start.AsSpan(1 << 20, 4096).ToArray(), second.Data);
    }

    [Fact]
    public async Task Stopping_finishes_the_requests_in_flight_replies_then_closes_and_flushes()
    {
        GatedDisk? gate = null;
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, wrap: d => gate = new GatedDisk(d, 0));
        using NbdTestClient client = server.Connect();
        client.Handshake("disk");
        byte[] data = TrackingData(5, 4096);
        client.SendRequest(Write, 1, 4096, 4096, payload: data);
        Assert.Equal(0U, client.ReadReply().Error);
        client.SendRequest(Read, 2, 0, 4096);
        await gate!.Entered;
        Task stopping = server.Server.StopAsync();
        Assert.False(stopping.IsCompleted);
        gate.Open();
        Reply reply = client.ReadReply(4096);
        Assert.Equal(2UL, reply.Handle);
        Assert.True(client.ServerClosed());
        await stopping;
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task Writes_on_one_connection_are_covered_by_a_flush_on_another_and_a_unix_socket_serves_too()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, unixSocket: true);
        using NbdTestClient writer = server.Connect();
        using NbdTestClient flusher = server.Connect();
        (_, ushort flags) = writer.Handshake("disk");
        flusher.Handshake("disk");
        Assert.Equal(0x100, flags & 0x100);
        byte[] data = TrackingData(9, 65536);
        writer.SendRequest(Write, 1, 0, (uint)data.Length, payload: data);
        Assert.Equal(0U, writer.ReadReply().Error);
        flusher.SendRequest(Flush, 1, 0, 0);
        Assert.Equal(0U, flusher.ReadReply().Error);
        flusher.SendRequest(Read, 2, 0, (uint)data.Length);
        Assert.Equal(data, flusher.ReadReply(data.Length).Data);
    }

    internal static byte[] TrackingData(int seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
