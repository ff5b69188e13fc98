using System.Net;
using System.Net.Sockets;

namespace Replication.Core.Nbd;

/// <summary>Where an <see cref="NbdServer"/> listens and how much it lets clients use. Immutable; validated when constructed.</summary>
public sealed class NbdServerOptions
{
    /// <summary>Creates options.</summary>
    /// <param name="endPoints">
    /// Where to listen: <see cref="IPEndPoint"/>s (TCP; port 0 picks a free port) and <see cref="UnixDomainSocketEndPoint"/>s.
    /// <see cref="DefaultEndPoint"/> (loopback, port 10809) when null or empty.
    /// </param>
    /// <param name="maxConnections">Connections served at once (1 to 65536; default 16); a connection beyond it is closed at once.</param>
    /// <param name="maxRequestsInFlight">Requests of one connection processed at once (1 to 1024; default 64); the next waits, unread.</param>
    /// <param name="maxInFlightBytes">
    /// Bytes of request payloads and read replies one connection may hold in memory at once (default 64 MiB; at least
    /// <paramref name="maxPayloadSize"/>). When a client sends faster than the disk takes, or stops reading replies, the
    /// server stops reading its requests: the client gets TCP backpressure, the server never buffers more than this.
    /// </param>
    /// <param name="maxPayloadSize">
    /// The largest read or write accepted, advertised as the maximum payload size (4 KiB to 32 MiB, default 32 MiB).
    /// A larger read, or a larger write of at most 32 MiB, is refused with <c>EINVAL</c> (its payload discarded unread); a
    /// write of more than 32 MiB and more than this closes the connection.
    /// </param>
    /// <param name="handshakeTimeout">
    /// Time a client has, from connecting, to finish option negotiation (default 30 s; at least 1 ms); then the connection
    /// is closed. <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </param>
    /// <param name="timeProvider">The clock of the handshake timeout; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">An end point is null or of another kind.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    public NbdServerOptions(
        IEnumerable<EndPoint>? endPoints = null,
        int maxConnections = 16,
        int maxRequestsInFlight = 64,
        long maxInFlightBytes = 64L << 20,
        int maxPayloadSize = NbdProtocol.DefaultMaxPayload,
        TimeSpan? handshakeTimeout = null,
        TimeProvider? timeProvider = null)
    {
        EndPoint[] points = endPoints?.ToArray() ?? [];
        foreach (EndPoint point in points)
        {
            if (point is not (IPEndPoint or UnixDomainSocketEndPoint))
            {
                throw new ArgumentException($"'{point}' is neither an IP end point nor a Unix domain socket.", nameof(endPoints));
            }
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxConnections, 65536);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestsInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxRequestsInFlight, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPayloadSize, 4096);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPayloadSize, NbdProtocol.DefaultMaxPayload);
        if (maxInFlightBytes < maxPayloadSize)
        {
            throw new ArgumentOutOfRangeException(nameof(maxInFlightBytes), maxInFlightBytes, "The in-flight limit must hold at least one request of the maximum payload size.");
        }

        TimeSpan timeout = handshakeTimeout ?? TimeSpan.FromSeconds(30);
        if (timeout != Timeout.InfiniteTimeSpan && timeout < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(handshakeTimeout), timeout, "The handshake timeout is at least 1 ms, or infinite.");
        }

        EndPoints = points.Length == 0 ? [DefaultEndPoint] : points;
        MaxConnections = maxConnections;
        MaxRequestsInFlight = maxRequestsInFlight;
        MaxInFlightBytes = maxInFlightBytes;
        MaxPayloadSize = maxPayloadSize;
        HandshakeTimeout = timeout;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The IANA port of NBD on the loopback address: 127.0.0.1:10809.</summary>
    public static IPEndPoint DefaultEndPoint => new(IPAddress.Loopback, 10809);

    /// <summary>The default options: loopback port 10809, 16 connections of 64 requests and 64 MiB in flight each.</summary>
    public static NbdServerOptions Default { get; } = new();

    /// <summary>Where the server listens.</summary>
    public IReadOnlyList<EndPoint> EndPoints { get; }

    /// <summary>Connections served at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Requests of one connection processed at once.</summary>
    public int MaxRequestsInFlight { get; }

    /// <summary>Bytes of payloads and read replies one connection may hold at once.</summary>
    public long MaxInFlightBytes { get; }

    /// <summary>The largest read or write accepted.</summary>
    public int MaxPayloadSize { get; }

    /// <summary>Time allowed for option negotiation; <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan HandshakeTimeout { get; }

    /// <summary>The clock of the handshake timeout.</summary>
    public TimeProvider TimeProvider { get; }
}
