using Replication.Core.Diff;

namespace Replication.Core.Targets;

/// <summary>
/// A replica writer's hold on the manifest stored beside its replica: one manifest operation at a time, the stamp of the
/// replica state the stored manifest describes, and whether this writer withdrew it. Once withdrawn (before the writer's
/// first change to the data it describes), opening it reports no manifest until a new one is written.
/// </summary>
/// <typeparam name="TStamp">The target's replica stamp.</typeparam>
internal sealed class ManifestGate<TStamp> : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _location;
    private TStamp _stamp;
    private volatile bool _withdrawn;

    /// <param name="location">The replica, for messages.</param>
    /// <param name="stamp">The replica's stamp when the writer took it over.</param>
    public ManifestGate(string location, TStamp stamp)
    {
        _location = location;
        _stamp = stamp;
    }

    /// <summary>
    /// Stores a manifest under the gate: <paramref name="write"/> calls <see cref="Record"/> with the stamp of the replica
    /// state it describes once the manifest is the replica's.
    /// </summary>
    public async ValueTask WriteAsync<TState>(Func<TState, CancellationToken, ValueTask> write, TState state, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await write(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records, inside <see cref="WriteAsync"/>, that the stored manifest now describes the replica at <paramref name="stamp"/>.</summary>
    public void Record(TStamp stamp)
    {
        _stamp = stamp;
        _withdrawn = false;
    }

    /// <summary>The stored manifest for the stamp last recorded, or none when this writer withdrew it.</summary>
    public async ValueTask<StoredManifest> OpenAsync<TState>(Func<TState, TStamp, CancellationToken, ValueTask<StoredManifest>> open, TState state, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _withdrawn
                ? StoredManifest.None($"{_location}: this writer changed the replica since its manifest was stored.")
                : await open(state, _stamp, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs <paramref name="withdraw"/> once, before the first change to the replica; later calls return at once.</summary>
    public ValueTask WithdrawAsync<TState>(Func<TState, CancellationToken, ValueTask> withdraw, TState state, CancellationToken cancellationToken) =>
        _withdrawn ? ValueTask.CompletedTask : WithdrawOnceAsync(withdraw, state, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private async ValueTask WithdrawOnceAsync<TState>(Func<TState, CancellationToken, ValueTask> withdraw, TState state, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_withdrawn)
            {
                await withdraw(state, cancellationToken).ConfigureAwait(false);
                _withdrawn = true;
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
