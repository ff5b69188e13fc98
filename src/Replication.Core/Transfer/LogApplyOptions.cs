using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// How <see cref="ILogApplier"/> applies logs. Immutable; <see cref="Validate"/> lists what is wrong, and the applier
/// refuses invalid options with an <see cref="ArgumentException"/> before it starts.
/// </summary>
public sealed record LogApplyOptions
{
    /// <summary>No chain point, no undo log, no checkpoint, sidecars required, the default copy options.</summary>
    public static LogApplyOptions Default { get; } = new();

    /// <summary>Concurrency, write size, bandwidth, retries and intervals of the writes.</summary>
    public TransferOptions Transfer { get; init; } = TransferOptions.Default;

    /// <summary>
    /// The <c>UniqueId</c> of the last log already applied to the destination (the point it is at): the first log must
    /// name it as its <c>PreviousUniqueId</c>. Null to check only the links between the logs given.
    /// </summary>
    public Guid? ExpectedPreviousUniqueId { get; init; }

    /// <summary>
    /// When set, the pre-image of every range the apply overwrites is captured into a sealed HRL log at this path (with
    /// its integrity sidecar) before the first byte of the destination is written. Null for none (a replica writer
    /// protects its newest recovery point by itself).
    /// </summary>
    public string? UndoLogPath { get; init; }

    /// <summary>
    /// A checkpoint file (replaced atomically) that lets a killed apply resume without writing again what it covers;
    /// deleted when the apply completes. Null for no checkpoint.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// True (the default) to refuse a log without its <see cref="HrlIntegrity"/> sidecar; false to verify the sidecar
    /// only when it exists (logs written by Hyper-V have none), and every recorded data checksum instead.
    /// </summary>
    public bool RequireIntegritySidecar { get; init; } = true;

    /// <summary>Default <see cref="StagingLimit"/>: 64 MiB.</summary>
    public const long DefaultStagingLimit = 64L << 20;

    /// <summary>
    /// Most bytes of logs one apply holds in memory (pooled, given back when the apply ends) so that each is read from
    /// its file once and the bytes written are exactly the bytes whose sidecar hash was verified, even if a file changes
    /// during the apply. Logs are taken in the order given while their lengths fit what is left; a log that does not fit
    /// is hashed from its file and then read again for the writes (from the page cache, as a rule). 0 reads every log
    /// twice and holds none. Default <see cref="DefaultStagingLimit"/>: the memory is fresh in a new process, and filling
    /// it costs more than the second read it saves, so large logs are not staged unless asked.
    /// </summary>
    public long StagingLimit { get; init; } = DefaultStagingLimit;

    /// <summary>Layout of the undo log.</summary>
    public HrlWriterOptions UndoLogOptions { get; init; } = HrlWriterOptions.Default;

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Nested(Transfer?.Validate(), nameof(Transfer))
        .When(UndoLogPath is not null && string.IsNullOrWhiteSpace(UndoLogPath), nameof(UndoLogPath), "must not be blank")
        .When(CheckpointPath is not null && string.IsNullOrWhiteSpace(CheckpointPath), nameof(CheckpointPath), "must not be blank")
        .Nested(UndoLogOptions?.Validate(), nameof(UndoLogOptions))
        .Range(StagingLimit, 0, long.MaxValue, nameof(StagingLimit))
        .Failures;
}
