using System.Threading.Tasks.Sources;

namespace Replication.Core.Nbd;

/// <summary>
/// A reusable wake-up for one waiter at a time, without allocating: <see cref="WaitAsync"/> completes at the next
/// <see cref="Set"/> (or at once when one came first). Continuations run on the thread pool, never inline in the setter.
/// </summary>
internal sealed class NbdSignal : IValueTaskSource<bool>
{
    private readonly Lock _gate = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private bool _pending;
    private bool _pendingValue;

    /// <summary>Completes with the value of the next <see cref="Set"/>, or of one already made and not yet consumed.</summary>
    public ValueTask<bool> WaitAsync()
    {
        lock (_gate)
        {
            if (_pending)
            {
                _pending = false;
                return new ValueTask<bool>(_pendingValue);
            }

            _waiting = true;
            return new ValueTask<bool>(this, _core.Version);
        }
    }

    /// <summary>Wakes the waiter with <paramref name="value"/>; with no waiter, the next wait completes with it.</summary>
    public void Set(bool value = true)
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                _pending = true;
                _pendingValue = value;
                return;
            }

            _waiting = false;
        }

        _core.SetResult(value);
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
