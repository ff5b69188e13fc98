namespace Replication.Core.Tests.Infrastructure;

/// <summary>An <see cref="IProgress{T}"/> that runs its action on the reporting thread (Progress&lt;T&gt; posts it later).</summary>
public sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
