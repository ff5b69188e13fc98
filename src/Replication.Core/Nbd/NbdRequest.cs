namespace Replication.Core.Nbd;

/// <summary>
/// One request slot of a connection, reused for request after request: the parsed header, the payload buffer (pooled),
/// the reply's header bytes, and the signal that hands the slot to its worker. A connection has at most
/// <see cref="NbdServerOptions.MaxRequestsInFlight"/> of them, created as needed.
/// </summary>
internal sealed class NbdRequest
{
    /// <summary>Room for the longest reply header: a structured error chunk with its message.</summary>
    public const int HeaderCapacity = 320;

    /// <summary>The bytes sent before the data: a simple reply, or a structured chunk header (and an error's payload).</summary>
    public byte[] ReplyHeader { get; } = new byte[HeaderCapacity];

    /// <summary>Set by the receiver to start the worker (true), or to end it (false).</summary>
    public NbdSignal Start { get; } = new();

    /// <summary>The worker loop serving this slot.</summary>
    public Task Worker { get; set; } = Task.CompletedTask;

    public ushort Flags { get; set; }

    public ushort Type { get; set; }

    public ulong Handle { get; set; }

    public long Offset { get; set; }

    public long Length { get; set; }

    /// <summary>A write's payload, or a read's data, rented from the shared pool; returned when the reply is sent.</summary>
    public byte[]? Payload { get; set; }

    /// <summary>Bytes of a write's payload received so far.</summary>
    public int Received { get; set; }

    /// <summary>Bytes of the in-flight budget this request holds until its reply is sent.</summary>
    public long Cost { get; set; }

    /// <summary>The NBD error to reply with; 0 for success.</summary>
    public uint Error { get; set; }

    /// <summary>A message for the client, sent with the error in a structured reply.</summary>
    public string? Message { get; set; }

    public int ReplyHeaderLength { get; set; }

    /// <summary>Bytes of <see cref="Payload"/> sent after the reply header (a read's data).</summary>
    public int ReplyDataLength { get; set; }

    /// <summary>Clears the per-request state before the slot takes a new request.</summary>
    public void Reset()
    {
        Payload = null;
        Received = 0;
        Cost = 0;
        Error = 0;
        Message = null;
        ReplyHeaderLength = 0;
        ReplyDataLength = 0;
    }
}
