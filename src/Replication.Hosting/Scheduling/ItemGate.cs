using System.Collections.Concurrent;

namespace Replication.Hosting.Scheduling;

/// <summary>
/// One run at a time per item in this process: a scheduled job (cycle, resync, retry) and a recovery plan's operation on
/// the same item wait for each other. Across hosts, Quartz's clustered job and the site's fence keep them apart.
/// </summary>
internal sealed class ItemGate
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    public async Task<IDisposable> EnterAsync(string item, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate = _gates.GetOrAdd(item, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Exit(gate);
    }

    private sealed class Exit(SemaphoreSlim gate) : IDisposable
    {
        private SemaphoreSlim? _gate = gate;

        public void Dispose() => Interlocked.Exchange(ref _gate, null)?.Release();
    }
}
