using System.Threading.Tasks.Sources;
using Replication.Core.ChangeTracking.Hrl;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// Runs a log's fsync on a thread-pool thread while the flush leader flushes the disk, so a flush costs the longer of
/// the two rather than their sum. One instance per tracked disk, used by one flush leader at a time; allocates nothing.
/// </summary>
internal sealed class LogFsync : IThreadPoolWorkItem, IValueTaskSource, IDisposable
{
    private readonly ManualResetEventSlim _done = new(false);
    private ManualResetValueTaskSourceCore<bool> _core;
    private HrlWriter? _writer;

    public LogFsync() => _core.RunContinuationsAsynchronously = true;

    /// <summary>Starts <see cref="HrlWriter.Flush"/> of <paramref name="writer"/> in the background.</summary>
    public void Start(HrlWriter writer)
    {
        _writer = writer;
        _core.Reset();
        _done.Reset();
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Waits for the fsync started last; throws what it threw.</summary>
    public ValueTask WaitAsync() => new(this, _core.Version);

    /// <summary>Blocks until the fsync started last is done; throws what it threw.</summary>
    public void Wait()
    {
        _done.Wait();
        _core.GetResult(_core.Version);
    }

    /// <summary>Releases the wait handle; call only when no fsync is running.</summary>
    public void Dispose() => _done.Dispose();

    void IThreadPoolWorkItem.Execute()
    {
        // The result is set before the event: a synchronous waiter reads it as soon as the event is set.
        try
        {
            _writer!.Flush();
            _writer = null;
            _core.SetResult(true);
        }
        catch (Exception ex)
        {
            _writer = null;
            _core.SetException(ex);
        }

        _done.Set();
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
