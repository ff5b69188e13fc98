using System.Net;
using System.Net.Sockets;
using Replication.Core.IO;

namespace Replication.Core.Nbd;

/// <summary>
/// Where an <see cref="NbdServer"/> listens and how much it lets clients use. Immutable; <see cref="Validate"/> lists what
/// is wrong, and the server refuses invalid options with an <see cref="ArgumentException"/> when it is created.
/// </summary>
public sealed record NbdServerOptions
{
    /// <summary>The IANA port of NBD on the loopback address: 127.0.0.1:10809.</summary>
    public static IPEndPoint DefaultEndPoint => new(IPAddress.Loopback, 10809);

    /// <summary>The default options: loopback port 10809, 16 connections of 64 requests and 64 MiB in flight each.</summary>
    public static NbdServerOptions Default { get; } = new();

    /// <summary>
    /// Where to listen: <see cref="IPEndPoint"/>s (TCP; port 0 picks a free port) and <see cref="UnixDomainSocketEndPoint"/>s.
    /// <see cref="DefaultEndPoint"/> (loopback, port 10809) when empty.
    /// </summary>
    public IReadOnlyList<EndPoint> EndPoints
    {
        get => field.Count == 0 ? [DefaultEndPoint] : field;
        init;
    } = [];

    /// <summary>Connections served at once (1 to 65536; default 16); a connection beyond it is closed at once.</summary>
    public int MaxConnections { get; init; } = 16;

    /// <summary>Requests of one connection processed at once (1 to 1024; default 64); the next waits, unread.</summary>
    public int MaxRequestsInFlight { get; init; } = 64;

    /// <summary>
    /// Bytes of request payloads and read replies one connection may hold in memory at once (default 64 MiB; at least
    /// <see cref="MaxPayloadSize"/>). When a client sends faster than the disk takes, or stops reading replies, the
    /// server stops reading its requests: the client gets TCP backpressure, the server never buffers more than this.
    /// </summary>
    public long MaxInFlightBytes { get; init; } = 64L << 20;

    /// <summary>
    /// The largest read or write accepted, advertised as the maximum payload size (4 KiB to 32 MiB, default 32 MiB).
    /// A larger read, or a larger write of at most 32 MiB, is refused with <c>EINVAL</c> (its payload discarded unread); a
    /// write of more than 32 MiB and more than this closes the connection.
    /// </summary>
    public int MaxPayloadSize { get; init; } = NbdProtocol.DefaultMaxPayload;

    /// <summary>
    /// Time a client has, from connecting, to finish option negotiation (default 30 s; at least 1 ms); then the connection
    /// is closed. <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock of the handshake timeout: the one given to the <see cref="NbdServer"/>.</summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .When(EndPoints is null || EndPoints.Any(p => p is not (IPEndPoint or UnixDomainSocketEndPoint)), nameof(EndPoints), "must hold only IP end points and Unix domain sockets")
        .Range(MaxConnections, 1, 65536, nameof(MaxConnections))
        .Range(MaxRequestsInFlight, 1, 1024, nameof(MaxRequestsInFlight))
        .Range(MaxPayloadSize, 4096, NbdProtocol.DefaultMaxPayload, nameof(MaxPayloadSize))
        .When(MaxInFlightBytes < MaxPayloadSize, nameof(MaxInFlightBytes), "must hold at least one request of the maximum payload size")
        .Range(HandshakeTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.MaxValue, nameof(HandshakeTimeout), allowInfinite: true)
        .Failures;
}
