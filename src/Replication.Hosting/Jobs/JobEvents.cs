namespace Replication.Hosting.Jobs;

/// <summary>
/// Tells in-process observers (tests, a product's status page) that the host saved an item's or a job's record. An
/// observer takes <see cref="Next"/> before it reads the store, then awaits it when what it read is not yet what it
/// waits for: no change is missed, and nothing polls.
/// </summary>
internal sealed class JobEvents
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next save.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Saved() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
