namespace Replication.Core.Tests.Infrastructure;

/// <summary>A count that tasks can wait to reach: synchronises a test's threads on events, never on time.</summary>
public sealed class AsyncCounter
{
    private readonly Lock _lock = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private int _count;

    /// <summary>Adds one and releases whoever waited for the new count.</summary>
    public void Add()
    {
        List<TaskCompletionSource> ready;
        lock (_lock)
        {
            _count++;
            ready = [.. _waiters.Where(w => w.Count <= _count).Select(w => w.Done)];
            _waiters.RemoveAll(w => w.Count <= _count);
        }

        ready.ForEach(d => d.SetResult());
    }

    /// <summary>Completes once the count has reached <paramref name="count"/>.</summary>
    public Task WaitForAsync(int count)
    {
        lock (_lock)
        {
            if (_count >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }
}
