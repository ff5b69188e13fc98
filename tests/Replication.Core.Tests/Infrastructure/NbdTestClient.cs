using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// A deliberately plain NBD client over a blocking socket, written from doc/proto.md for tests: it can speak the
/// protocol correctly or break it on purpose. Receives fail after a minute rather than hang a broken test.
/// </summary>
public sealed class NbdTestClient : IDisposable
{
    public const uint RequestMagic = 0x25609513;
    public const ushort Read = 0, Write = 1, Disc = 2, Flush = 3, Trim = 4, WriteZeroes = 6;
    public const ushort Fua = 1, NoHole = 2, Df = 4;
    public const uint OptExportName = 1, OptAbort = 2, OptList = 3, OptStartTls = 5, OptInfo = 6, OptGo = 7, OptStructuredReply = 8;
    public const uint RepAck = 1, RepServer = 2, RepInfo = 3, RepErrUnsup = 0x80000001, RepErrPolicy = 0x80000002,
        RepErrInvalid = 0x80000003, RepErrUnknown = 0x80000006, RepErrTooBig = 0x80000009;
    public const uint EPerm = 1, EInval = 22, ENoSpc = 28, EOverflow = 75;

    private readonly Socket _socket;

    private NbdTestClient(Socket socket) => _socket = socket;

    public Socket Socket => _socket;

    public bool Structured { get; private set; }

    public static NbdTestClient Connect(EndPoint endPoint)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.ReceiveTimeout = 60_000;
        socket.Connect(endPoint);
        return new NbdTestClient(socket);
    }

    /// <summary>Reads the server's greeting and sends the client flags (fixed newstyle, and optionally no zeroes).</summary>
    public ushort Greet(uint clientFlags = 1)
    {
        byte[] greeting = ReceiveExactly(18);
        Assert.Equal(0x4e42444d41474943UL, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(0x49484156454F5054UL, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        Send(BigEndian32(clientFlags));
        return BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16));
    }

    /// <summary>The whole handshake ending in NBD_OPT_GO; returns the export's size and transmission flags.</summary>
    public (ulong Size, ushort Flags) Handshake(string export = "", bool structured = false)
    {
        Greet();
        if (structured)
        {
            SendOption(OptStructuredReply, []);
            Assert.Equal(RepAck, ReadOptionReply(OptStructuredReply).Type);
            Structured = true;
        }

        SendOption(OptGo, GoData(export, 3));
        ulong size = 0;
        ushort flags = 0;
        while (true)
        {
            (uint type, byte[] data) = ReadOptionReply(OptGo);
            if (type == RepAck)
            {
                return (size, flags);
            }

            Assert.True(type == RepInfo, $"NBD_OPT_GO failed with reply type 0x{type:x8}: {Encoding.UTF8.GetString(data)}");
            if (BinaryPrimitives.ReadUInt16BigEndian(data) == 0)
            {
                size = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                flags = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
        }
    }

    /// <summary>Data of NBD_OPT_INFO / NBD_OPT_GO: the name and the information requests.</summary>
    public static byte[] GoData(string export, params ushort[] requests)
    {
        byte[] name = Encoding.UTF8.GetBytes(export);
        byte[] data = new byte[4 + name.Length + 2 + (2 * requests.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length), (ushort)requests.Length);
        for (int i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(6 + name.Length + (2 * i)), requests[i]);
        }

        return data;
    }

    public void SendOption(uint option, ReadOnlySpan<byte> data, uint? declaredLength = null)
    {
        byte[] header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, 0x49484156454F5054UL);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), declaredLength ?? (uint)data.Length);
        Send(header);
        Send(data);
    }

    public (uint Type, byte[] Data) ReadOptionReply(uint option)
    {
        byte[] header = ReceiveExactly(20);
        Assert.Equal(0x0003e889045565a9UL, BinaryPrimitives.ReadUInt64BigEndian(header));
        Assert.Equal(option, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)));
        uint type = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        return (type, ReceiveExactly(length));
    }

    public void SendRequest(ushort type, ulong handle, ulong offset, uint length, ushort flags = 0, ReadOnlySpan<byte> payload = default, uint magic = RequestMagic)
    {
        byte[] header = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(header, magic);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), handle);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), length);
        Send(header);
        Send(payload);
    }

    /// <summary>
    /// Reads one whole reply: a simple reply (with data when it answers a
    /// successful read, its length given by <paramref name="readLengthOf"/> for the cookie), or structured chunks up to the one flagged done, the data reassembled by offset.
    /// </summary>
    public Reply ReadReply(Func<ulong, int> readLengthOf)
    {
        byte[] head = ReceiveExactly(4);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(head);
        if (magic == 0x67446698)
        {
            byte[] rest = ReceiveExactly(12);
            uint error = BinaryPrimitives.ReadUInt32BigEndian(rest);
            ulong handle = BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(4));
            int length = error == 0 ? readLengthOf(handle) : 0;
            return new Reply(handle, error, ReceiveExactly(length), null);
        }

        Assert.Equal(0x668e33efU, magic);
        ulong cookie = 0;
        uint chunkError = 0;
        string? message = null;
        byte[]? data = null;
        long baseOffset = -1;
        while (true)
        {
            byte[] chunk = ReceiveExactly(16);
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(chunk);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(chunk.AsSpan(2));
            cookie = BinaryPrimitives.ReadUInt64BigEndian(chunk.AsSpan(4));
            byte[] payload = ReceiveExactly((int)BinaryPrimitives.ReadUInt32BigEndian(chunk.AsSpan(12)));
            if (type == 1)
            {
                long offset = (long)BinaryPrimitives.ReadUInt64BigEndian(payload);
                data ??= new byte[readLengthOf(cookie)];
                baseOffset = baseOffset < 0 ? offset : baseOffset;
                payload.AsSpan(8).CopyTo(data.AsSpan((int)(offset - baseOffset)));
            }
            else if ((type & 0x8000) != 0)
            {
                chunkError = BinaryPrimitives.ReadUInt32BigEndian(payload);
                message = Encoding.UTF8.GetString(payload, 6, BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(4)));
            }

            if ((flags & 1) != 0)
            {
                return new Reply(cookie, chunkError, data ?? [], message);
            }

            Assert.Equal(0x668e33efU, BinaryPrimitives.ReadUInt32BigEndian(ReceiveExactly(4)));
        }
    }

    public Reply ReadReply(int readLength = 0) => ReadReply(_ => readLength);

    /// <summary>True when the server closed the connection (end of stream or reset) before sending anything more.</summary>
    public bool ServerClosed()
    {
        byte[] one = new byte[1];
        try
        {
            return _socket.Receive(one) == 0;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
    }

    public void Send(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            bytes = bytes[_socket.Send(bytes)..];
        }
    }

    public byte[] ReceiveExactly(int count)
    {
        byte[] bytes = new byte[count];
        int done = 0;
        while (done < count)
        {
            int n = _socket.Receive(bytes, done, count - done, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"The server closed the connection after {done} of {count} bytes.");
            }

            done += n;
        }

        return bytes;
    }

    public static byte[] BigEndian32(uint value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public void Dispose() => _socket.Dispose();

    public sealed record Reply(ulong Handle, uint Error, byte[] Data, string? Message);
}
