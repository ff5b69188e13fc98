using System.Collections.Concurrent;
using System.Net.Sockets;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Fails a fraction of the requests it sees with a 503 Server Busy (Retry-After), a 500, a timeout (the request hangs
/// until the caller gives up) or a connection reset after the request reached the service. Counts what it injected,
/// the failures the service itself answered while it was injecting, and every request it saw.
/// </summary>
public sealed class FaultInjectionPolicy(double rate, int seed, Func<HttpMessage, bool> applies) : HttpPipelinePolicy
{
    /// <summary>The kinds of fault, in the order the random choice picks from.</summary>
    public static readonly string[] AllKinds = ["503", "500", "timeout", "reset"];

    private readonly Random _random = new(seed);
    private readonly object _lock = new();
    private int _injected;
    private int _serviceFailures;

    public int Injected => Volatile.Read(ref _injected);

    /// <summary>
    /// Requests the faults applied to that the service (or the connection to it) failed by itself while faults were
    /// enabled: a 408, 429 or 5xx answer, or an exception. Each is a retry the caller makes that was not injected.
    /// </summary>
    public int ServiceFailures => Volatile.Read(ref _serviceFailures);

    public ConcurrentDictionary<string, int> ByKind { get; } = new();

    /// <summary>How many times each request (method, URI and range) was sent: more than once means it was retried.</summary>
    public ConcurrentDictionary<string, int> Sent { get; } = new();

    /// <summary>For each 503 injected: when, on <see cref="Clock"/>, it was answered and when the same request came back.</summary>
    public ConcurrentDictionary<string, (DateTimeOffset Failed, DateTimeOffset? Retried)> BusyRetries { get; } = new();

    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The kinds of fault injected (default: all of <see cref="AllKinds"/>).</summary>
    public IReadOnlyList<string> Kinds { get; init; } = AllKinds;

    /// <summary>The clock <see cref="BusyRetries"/> are read from.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Called when an injected timeout starts hanging (a test on a fake clock moves it past the caller's deadline).</summary>
    public Action? OnHang { get; init; }

    /// <summary>Faults are injected only while this is true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Synchronous requests (a test's own reads) pass untouched.</summary>
    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => ProcessNext(message, pipeline);

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        string key = $"{message.Request.Method} {message.Request.Uri} {(message.Request.Headers.TryGetValue("x-ms-range", out string? r) ? r : "")}";
        Sent.AddOrUpdate(key, 1, (_, n) => n + 1);
        if (BusyRetries.TryGetValue(key, out var busy) && busy.Retried is null)
        {
            BusyRetries[key] = (busy.Failed, Clock.GetUtcNow());
        }

        string? kind;
        bool watched;
        lock (_lock)
        {
            watched = Enabled && applies(message);
            kind = watched && _random.NextDouble() < rate ? Kinds[_random.Next(Kinds.Count)] : null;
        }

        switch (kind)
        {
            case "503":
                Count("503");
                BusyRetries.TryAdd(key, (Clock.GetUtcNow(), null));
                message.Response = new FakeResponse(503, "ServerBusy", ("Retry-After", ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return;
            case "500":
                Count("500");
                message.Response = new FakeResponse(500, "InternalError");
                return;
            case "timeout":
                Count("timeout");
                OnHang?.Invoke();
                await Task.Delay(Timeout.Infinite, message.CancellationToken);
                return;
            case "reset":
                Count("reset");
                await ProcessNextAsync(message, pipeline);
                throw new IOException("Connection reset by peer (injected).", new SocketException((int)SocketError.ConnectionReset));
            default:
                try
                {
                    await ProcessNextAsync(message, pipeline);
                }
                catch when (watched)
                {
                    Interlocked.Increment(ref _serviceFailures);
                    throw;
                }

                if (watched && message.Response.Status is 408 or 429 or >= 500)
                {
                    Interlocked.Increment(ref _serviceFailures);
                }

                return;
        }
    }

    private void Count(string kind)
    {
        Interlocked.Increment(ref _injected);
        ByKind.AddOrUpdate(kind, 1, (_, n) => n + 1);
    }

    private sealed class FakeResponse : Response
    {
        private readonly Dictionary<string, string> _headers = new(StringComparer.OrdinalIgnoreCase);

        public FakeResponse(int status, string errorCode, params (string Name, string Value)[] headers)
        {
            Status = status;
            _headers["x-ms-error-code"] = errorCode;
            foreach ((string name, string value) in headers)
            {
                _headers[name] = value;
            }
        }

        public override int Status { get; }

        public override string ReasonPhrase => "Injected";

        public override Stream? ContentStream { get; set; } = new MemoryStream();

        public override string ClientRequestId { get; set; } = "";

        public override void Dispose()
        {
        }

        protected override bool ContainsHeader(string name) => _headers.ContainsKey(name);

        protected override IEnumerable<HttpHeader> EnumerateHeaders() => _headers.Select(h => new HttpHeader(h.Key, h.Value));

        protected override bool TryGetHeader(string name, out string value) => _headers.TryGetValue(name, out value!);

        protected override bool TryGetHeaderValues(string name, out IEnumerable<string> values)
        {
            bool found = _headers.TryGetValue(name, out string? value);
            values = found ? [value!] : [];
            return found;
        }
    }
}
