using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Replication.Core.Disks;
using static Replication.Core.Nbd.NbdProtocol;

namespace Replication.Core.Nbd;

internal sealed partial class NbdConnection
{
    private readonly NbdSocketSender _sender = new();
    private readonly Lock _sendGate = new();
    private readonly Queue<NbdRequest> _sendQueue;
    private readonly NbdRequest[] _batch;
    private readonly List<ArraySegment<byte>> _segments;
    private bool _sending;

    /// <summary>The worker of one request slot: runs each request handed to it, then queues its reply.</summary>
    private async Task WorkerAsync(NbdRequest request)
    {
        while (await request.Start.WaitAsync().ConfigureAwait(false))
        {
            if (request.Error == 0)
            {
                try
                {
                    await ExecuteAsync(Export!.Disk, request).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ReplicationException or NotSupportedException or UnauthorizedAccessException
                                               or ArgumentException or ObjectDisposedException or OperationCanceledException)
                {
                    (request.Error, request.Message) = ErrorOf(ex);
                    request.ReplyDataLength = 0;
                }
                catch (Exception ex)
                {
                    // Not a disk error the client can be told about: recorded, answered with EIO, and the session ended.
                    _server.RecordFault(ex);
                    request.Error = EIo;
                    request.Message = "internal server error";
                    request.ReplyDataLength = 0;
                    Abort();
                }
            }

            BuildReply(request);
            await SendAsync(request).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a validated request against the disk. FUA: the request's writes are flushed before the reply.</summary>
    // Pooled: a disk write that completes asynchronously must not allocate a state machine box per request.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ExecuteAsync(IVirtualDisk disk, NbdRequest request)
    {
        switch (request.Type)
        {
            case CmdRead:
                if (request.Length > 0)
                {
                    request.Payload = Rent(request.Length);
                    await disk.ReadAsync(request.Offset, request.Payload.AsMemory(0, (int)request.Length)).ConfigureAwait(false);
                    request.ReplyDataLength = (int)request.Length;
                }

                return;

            case CmdWrite:
                if (request.Length > 0)
                {
                    // Written on this worker, synchronously: on Linux a file's asynchronous write is this same blocking
                    // pwrite queued to another pool thread, and that hand-off (a wake-up, a spinning idle worker) cost
                    // more CPU than the write itself into the page cache. The worker is this request's own; nothing
                    // else waits for it.
                    disk.Write(request.Offset, request.Payload.AsSpan(0, (int)request.Length));
                }

                break;

            case CmdTrim:
            case CmdWriteZeroes:
                // A trimmed range may read as anything, but the replica must equal the source: it becomes zeros, recorded.
                await disk.ZeroAsync(request.Offset, request.Length, CancellationToken.None).ConfigureAwait(false);
                break;

            case CmdFlush:
                await disk.FlushAsync().ConfigureAwait(false);
                return;
        }

        if ((request.Flags & CmdFlagFua) != 0)
        {
            await disk.FlushAsync().ConfigureAwait(false);
        }
    }

    private static (uint Error, string Message) ErrorOf(Exception ex) => ex switch
    {
        NotSupportedException or UnauthorizedAccessException => (EPerm, "the export refused the write"),
        ArgumentException => (EInval, "invalid request"),
        ObjectDisposedException or OperationCanceledException => (EShutdown, "the server is shutting down"),
        IOException { HResult: 28 or 27 or 122 } => (ENoSpc, "no space left for the export"),
        _ => (EIo, "I/O error on the export"),
    };

    /// <summary>Writes the reply header: a simple reply, or a structured chunk when structured replies were negotiated.</summary>
    private void BuildReply(NbdRequest request)
    {
        Span<byte> header = request.ReplyHeader;
        bool structured = _structured && (request.Type == CmdRead || request.Error != 0);
        if (!structured)
        {
            BinaryPrimitives.WriteUInt32BigEndian(header, SimpleReplyMagic);
            BinaryPrimitives.WriteUInt32BigEndian(header[4..], request.Error);
            BinaryPrimitives.WriteUInt64BigEndian(header[8..], request.Handle);
            request.ReplyHeaderLength = SimpleReplySize;
            return;
        }

        BinaryPrimitives.WriteUInt32BigEndian(header, StructuredReplyMagic);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], ReplyFlagDone);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], request.Handle);
        if (request.Error != 0)
        {
            int messageLength = Encoding.UTF8.GetBytes(request.Message ?? "error", header[26..]);
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], ReplyTypeError);
            BinaryPrimitives.WriteUInt32BigEndian(header[16..], (uint)(6 + messageLength));
            BinaryPrimitives.WriteUInt32BigEndian(header[20..], request.Error);
            BinaryPrimitives.WriteUInt16BigEndian(header[24..], (ushort)messageLength);
            request.ReplyHeaderLength = 26 + messageLength;
        }
        else if (request.ReplyDataLength == 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], ReplyTypeNone);
            BinaryPrimitives.WriteUInt32BigEndian(header[16..], 0);
            request.ReplyHeaderLength = StructuredReplyHeaderSize;
        }
        else
        {
            // One chunk holds the whole read: its data is all in memory, so no error can follow it and it can be the last.
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], ReplyTypeOffsetData);
            BinaryPrimitives.WriteUInt32BigEndian(header[16..], (uint)(8 + request.ReplyDataLength));
            BinaryPrimitives.WriteUInt64BigEndian(header[20..], (ulong)request.Offset);
            request.ReplyHeaderLength = StructuredReplyHeaderSize + 8;
        }
    }

    /// <summary>Queues a reply; the caller becomes the sender when none is running.</summary>
    private ValueTask SendAsync(NbdRequest request)
    {
        lock (_sendGate)
        {
            _sendQueue.Enqueue(request);
            if (_sending)
            {
                return ValueTask.CompletedTask;
            }

            _sending = true;
        }

        return SendQueuedAsync();
    }

    /// <summary>
    /// Sends every queued reply, header and data, in gathered sends of up to one reply per slot, until the queue is empty;
    /// then gives each sent request's slot and budget back. Replies queued meanwhile go in the next send.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendQueuedAsync()
    {
        while (true)
        {
            int count = 0;
            lock (_sendGate)
            {
                while (count < _batch.Length && _sendQueue.TryDequeue(out NbdRequest? next))
                {
                    _batch[count++] = next;
                }

                if (count == 0)
                {
                    _sending = false;
                    return;
                }
            }

            _segments.Clear();
            int total = 0;
            for (int i = 0; i < count; i++)
            {
                NbdRequest request = _batch[i];
                _segments.Add(new ArraySegment<byte>(request.ReplyHeader, 0, request.ReplyHeaderLength));
                total += request.ReplyHeaderLength;
                if (request.ReplyDataLength > 0)
                {
                    _segments.Add(new ArraySegment<byte>(request.Payload!, 0, request.ReplyDataLength));
                    total += request.ReplyDataLength;
                }
            }

            if (!_broken)
            {
                try
                {
                    int sent = await _sender.SendAsync(_socket, _segments).ConfigureAwait(false);
                    if (sent != total)
                    {
                        Abort();
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // The client is gone: the rest of its replies are dropped, its requests still release their resources.
                    Abort();
                }
            }

            for (int i = 0; i < count; i++)
            {
                Release(_batch[i]);
                _batch[i] = null!;
            }
        }
    }
}
