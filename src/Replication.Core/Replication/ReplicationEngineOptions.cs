using Replication.Core.Transfer;

namespace Replication.Core.Replication;

/// <summary>How the engine runs: the transfer defaults, and where it reports progress. Immutable (the clock is the engine's constructor argument).</summary>
public sealed class ReplicationEngineOptions
{
    /// <summary>The transfer defaults, no progress.</summary>
    public static ReplicationEngineOptions Default { get; } = new();

    /// <summary>
    /// Retries, request timeout, write size and checkpoint interval of every transfer; concurrency and bandwidth come
    /// from each item's <see cref="ReplicationPolicy"/>.
    /// </summary>
    public TransferOptions Transfer
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TransferOptions.Default;

    /// <summary>
    /// Called when a run has completed a durable step, before it starts the next one: <c>rotated</c>,
    /// <c>shipped disk N</c>, <c>point disk N</c>, <c>recorded</c>, <c>pruned</c>, <c>released</c> in a cycle;
    /// <c>copy begun disk N</c>, <c>copied disk N</c>, <c>copies recorded</c> in an initial replication or resync. For
    /// tracing (and for tests that stop a run between two steps); the run waits for the returned task. Null for none.
    /// </summary>
    public Func<string, ValueTask>? StepCompleted { get; init; }

    /// <summary>Receives progress of long steps (copies, applies); null for none.</summary>
    public IProgress<ReplicationProgress>? Progress { get; init; }

    /// <summary>Folder for the temporary manifests of resyncs (the system temp folder when null).</summary>
    public string? WorkDirectory { get; init; }
}
