using System.Collections.Concurrent;
using System.Net.Sockets;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Fails a fraction of the requests it sees with a 503 Server Busy (Retry-After), a 500, a timeout (the request hangs
/// until the caller gives up) or a connection reset after the request reached the service. Counts what it injected.
/// </summary>
public sealed class FaultInjectionPolicy(double rate, int seed, Func<HttpMessage, bool> applies) : HttpPipelinePolicy
{
    private readonly Random _random = new(seed);
    private readonly object _lock = new();
    private int _injected;

    public int Injected => Volatile.Read(ref _injected);

    public ConcurrentDictionary<string, int> ByKind { get; } = new();

    /// <summary>For each 503 injected: when it was answered and when the same request came back.</summary>
    public ConcurrentDictionary<string, (DateTimeOffset Failed, DateTimeOffset? Retried)> BusyRetries { get; } = new();

    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Faults are injected only while this is true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Synchronous requests (a test's own reads) pass untouched.</summary>
    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => ProcessNext(message, pipeline);

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        string key = $"{message.Request.Method} {message.Request.Uri} {(message.Request.Headers.TryGetValue("x-ms-range", out string? r) ? r : "")}";
        if (BusyRetries.TryGetValue(key, out var busy) && busy.Retried is null)
        {
            BusyRetries[key] = (busy.Failed, DateTimeOffset.UtcNow);
        }

        int kind;
        lock (_lock)
        {
            kind = Enabled && applies(message) && _random.NextDouble() < rate ? _random.Next(4) : -1;
        }

        switch (kind)
        {
            case 0:
                Count("503");
                BusyRetries.TryAdd(key, (DateTimeOffset.UtcNow, null));
                message.Response = new FakeResponse(503, "ServerBusy", ("Retry-After", ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return;
            case 1:
                Count("500");
                message.Response = new FakeResponse(500, "InternalError");
                return;
            case 2:
                Count("timeout");
                await Task.Delay(Timeout.Infinite, message.CancellationToken);
                return;
            case 3:
                Count("reset");
                await ProcessNextAsync(message, pipeline);
                throw new IOException("Connection reset by peer (injected).", new SocketException((int)SocketError.ConnectionReset));
            default:
                await ProcessNextAsync(message, pipeline);
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
