using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Nbd;

namespace Replication.Benchmarks.Nbd;

/// <summary>
/// PERFORMANCE.md P11 (allocation): NBD requests through the in-process server over loopback TCP, against a raw disk and
/// a tracked one. The client is a blocking socket with prebuilt requests (it allocates nothing), so the Allocated
/// column, counted over the whole process, is the server's per request. Each operation is one request; a batch of
/// <see cref="Depth"/> requests is sent at once and all replies read before the next batch (queue depth).
/// </summary>
[MemoryDiagnoser]
public class NbdRequestBenchmarks
{
    private const int IoSize = 4096;
    private const int Batches = 64;
    private static readonly long DiskSize = BenchmarkSize.Cap(256L << 20);

    private string _dir = null!;
    private IVirtualDisk _disk = null!;
    private TrackedDisk? _tracked;
    private NbdServer _server = null!;
    private Socket _socket = null!;
    private byte[] _writes = null!;
    private byte[] _reads = null!;
    private byte[] _flushes = null!;
    private byte[] _replies = null!;

    [Params("raw", "tracked")]
    public string Export { get; set; } = "raw";

    [Params(1, 16)]
    public int Depth { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "repl-bench-nbd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "disk.img");
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            byte[] chunk = new byte[1 << 20];
            new Random(1).NextBytes(chunk);
            for (long offset = 0; offset < DiskSize; offset += chunk.Length)
            {
                file.Write(chunk);
            }
        }

        VirtualDisk raw = VirtualDisk.Open(path);
        _tracked = Export == "tracked" ? TrackedDisk.Open(raw, Path.Combine(_dir, "logs")) : null;
        _disk = _tracked ?? (IVirtualDisk)raw;
        _server = new NbdServer([new NbdExport("disk", _disk)], new NbdServerOptions { EndPoints = [new IPEndPoint(IPAddress.Loopback, 0)] });
        _server.StartAsync().GetAwaiter().GetResult();
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(_server.LocalEndPoints[0]);
        Handshake();

        var random = new Random(2);
        byte[] payload = new byte[IoSize];
        random.NextBytes(payload);
        _writes = new byte[Depth * (28 + IoSize)];
        _reads = new byte[Depth * 28];
        _flushes = new byte[28];
        for (int i = 0; i < Depth; i++)
        {
            long offset = random.NextInt64(0, DiskSize / IoSize) * IoSize;
            Header(_writes.AsSpan(i * (28 + IoSize)), 1, (ulong)i, offset, IoSize);
            payload.CopyTo(_writes, (i * (28 + IoSize)) + 28);
            Header(_reads.AsSpan(i * 28), 0, (ulong)i, random.NextInt64(0, DiskSize / IoSize) * IoSize, IoSize);
        }

        Header(_flushes, 3, 0, 0, 0);
        _replies = new byte[Depth * (16 + IoSize)];
    }

    [IterationCleanup]
    public void ReleaseLogs()
    {
        if (_tracked is not null)
        {
            // Not measured: keeps the log folder from growing across iterations.
            SealedLog sealedLog = _tracked.RotateAsync().GetAwaiter().GetResult();
            _tracked.ReleaseAsync(sealedLog.SequenceNumber).GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _socket.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _disk.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>4 KiB writes at random offsets (simple replies of 16 bytes).</summary>
    [Benchmark(OperationsPerInvoke = Batches * 16)]
    public void Write4K() => Run(_writes, 16);

    /// <summary>4 KiB reads at random offsets (simple replies with the data).</summary>
    [Benchmark(OperationsPerInvoke = Batches * 16)]
    public void Read4K() => Run(_reads, 16 + IoSize);

    /// <summary>A flush after each batch of writes: group commit of the log and the disk for a tracked export.</summary>
    [Benchmark(OperationsPerInvoke = Batches * 16)]
    public void Write4KThenFlush()
    {
        for (int round = 0; round < Batches * 16 / Depth; round++)
        {
            Send(_writes);
            Receive(16 * Depth);
            Send(_flushes);
            Receive(16);
        }
    }

    private void Run(byte[] requests, int replySize)
    {
        for (int round = 0; round < Batches * 16 / Depth; round++)
        {
            Send(requests);
            Receive(replySize * Depth);
        }
    }

    private void Send(byte[] bytes)
    {
        int done = 0;
        while (done < bytes.Length)
        {
            done += _socket.Send(bytes, done, bytes.Length - done, SocketFlags.None);
        }
    }

    private void Receive(int count)
    {
        int done = 0;
        while (done < count)
        {
            int n = _socket.Receive(_replies, done, count - done, SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidOperationException("The server closed the connection.");
            }

            done += n;
        }
    }

    private void Handshake()
    {
        byte[] buffer = new byte[256];
        ReceiveInto(buffer, 18);
        BinaryPrimitives.WriteUInt32BigEndian(buffer, 1);
        Send(buffer[..4]);

        // NBD_OPT_GO for "disk", no information requests; then NBD_REP_INFO (export) and NBD_REP_ACK.
        byte[] option = new byte[16 + 4 + 4 + 2];
        BinaryPrimitives.WriteUInt64BigEndian(option, 0x49484156454F5054UL);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(8), 7);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(12), 10);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(16), 4);
        "disk"u8.CopyTo(option.AsSpan(20));
        Send(option);
        while (true)
        {
            ReceiveInto(buffer, 20);
            uint type = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(12));
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(16));
            ReceiveInto(buffer, length);
            if (type == 1)
            {
                return;
            }

            if (type != 3)
            {
                throw new InvalidOperationException($"NBD_OPT_GO failed: 0x{type:x8}");
            }
        }
    }

    private void ReceiveInto(byte[] buffer, int count)
    {
        int done = 0;
        while (done < count)
        {
            int n = _socket.Receive(buffer, done, count - done, SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidOperationException("The server closed the connection.");
            }

            done += n;
        }
    }

    private static void Header(Span<byte> destination, ushort type, ulong handle, long offset, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 0x25609513);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], handle);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], (ulong)offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], length);
    }
}
