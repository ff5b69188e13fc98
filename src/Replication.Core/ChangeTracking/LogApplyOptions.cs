using Replication.Core.ChangeTracking.Hrl;

namespace Replication.Core.ChangeTracking;

/// <summary>How <see cref="LogApplier"/> applies logs. Immutable; validated when constructed.</summary>
public sealed class LogApplyOptions
{
    /// <summary>Creates options.</summary>
    /// <param name="expectedPreviousUniqueId">
    /// The <c>UniqueId</c> of the last log already applied to the target (the point it is at): the first log must name
    /// it as its <c>PreviousUniqueId</c>. Null to check only the links between the logs given.
    /// </param>
    /// <param name="undoLogPath">
    /// When set, the pre-image of every range the apply overwrites is captured into a sealed HRL log at this path (with
    /// its integrity sidecar) before the first byte of the target is written.
    /// </param>
    /// <param name="maxDegreeOfParallelism">Target writes in flight at once (1 to 64; default 4).</param>
    /// <param name="chunkSize">Largest single target write, and the pooled buffer size (64 KiB to 16 MiB, a multiple of 512; default 1 MiB).</param>
    /// <param name="requireIntegritySidecar">
    /// True (the default) to refuse a log without its <see cref="HrlIntegrity"/> sidecar; false to verify the sidecar
    /// only when it exists (logs written by Hyper-V have none).
    /// </param>
    /// <param name="timeProvider">The clock for the undo log's time stamps; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="undoLogOptions">Layout of the undo log; <see cref="HrlWriterOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or count is out of range.</exception>
    public LogApplyOptions(
        Guid? expectedPreviousUniqueId = null,
        string? undoLogPath = null,
        int maxDegreeOfParallelism = DefaultMaxDegreeOfParallelism,
        int chunkSize = DefaultChunkSize,
        bool requireIntegritySidecar = true,
        TimeProvider? timeProvider = null,
        HrlWriterOptions? undoLogOptions = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDegreeOfParallelism, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 64 << 10);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, 16 << 20);
        if (chunkSize % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "The chunk size must be a multiple of 512.");
        }

        if (undoLogPath is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(undoLogPath);
        }

        ExpectedPreviousUniqueId = expectedPreviousUniqueId;
        UndoLogPath = undoLogPath;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
        ChunkSize = chunkSize;
        RequireIntegritySidecar = requireIntegritySidecar;
        TimeProvider = timeProvider ?? TimeProvider.System;
        UndoLogOptions = undoLogOptions ?? HrlWriterOptions.Default;
    }

    /// <summary>Default <see cref="MaxDegreeOfParallelism"/>.</summary>
    public const int DefaultMaxDegreeOfParallelism = 4;

    /// <summary>Default <see cref="ChunkSize"/>: 1 MiB.</summary>
    public const int DefaultChunkSize = 1 << 20;

    /// <summary>The default options: no chain point, no undo log, sidecars required.</summary>
    public static LogApplyOptions Default { get; } = new();

    /// <summary>The point the target is at, checked against the first log; null when not checked.</summary>
    public Guid? ExpectedPreviousUniqueId { get; }

    /// <summary>Where to capture the undo log; null for none.</summary>
    public string? UndoLogPath { get; }

    /// <summary>Target writes in flight at once.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Largest single target write.</summary>
    public int ChunkSize { get; }

    /// <summary>Whether a log without an integrity sidecar is refused.</summary>
    public bool RequireIntegritySidecar { get; }

    /// <summary>The clock for the undo log.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Layout of the undo log.</summary>
    public HrlWriterOptions UndoLogOptions { get; }
}
