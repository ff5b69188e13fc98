namespace Replication.Core.Transfer;

/// <summary>What <see cref="ILogApplier.ApplyAsync"/> did.</summary>
public sealed class LogApplyResult
{
    internal LogApplyResult()
    {
    }

    /// <summary>Logs applied.</summary>
    public int LogCount { get; internal init; }

    /// <summary>The first log's <c>PreviousUniqueId</c>: the point the destination was at before.</summary>
    public Guid PreviousUniqueId { get; internal init; }

    /// <summary>The last log's <c>UniqueId</c>: the point the destination is at now.</summary>
    public Guid LastUniqueId { get; internal init; }

    /// <summary>Records in the logs.</summary>
    public long RecordCount { get; internal init; }

    /// <summary>Bytes of data in the records (what applying them one by one would write).</summary>
    public long LoggedBytes { get; internal init; }

    /// <summary>Coalesced extents applied.</summary>
    public int ExtentCount { get; internal init; }

    /// <summary>Bytes the coalesced extents cover: what the destination holds of the logs once applied (data and zeros).</summary>
    public long BytesWritten { get; internal init; }

    /// <summary>Payload bytes sent to the destination by this run (zero runs are made zero, not sent).</summary>
    public long BytesSent { get; internal init; }

    /// <summary>Bytes of zero runs made zero by the destination by this run.</summary>
    public long BytesZeroed { get; internal init; }

    /// <summary>Offset a checkpoint let this run start from (0 when it started afresh).</summary>
    public long ResumedFrom { get; internal init; }

    /// <summary>What the copy read, sent, zeroed and retried.</summary>
    public TransferResult Transfer { get; internal init; } = null!;

    /// <summary>The undo log, when one was asked for.</summary>
    public UndoLogInfo? UndoLog { get; internal init; }
}

/// <summary>An undo log captured by <see cref="ILogApplier"/>: the pre-images of the ranges an apply overwrote.</summary>
public sealed class UndoLogInfo
{
    internal UndoLogInfo()
    {
    }

    /// <summary>Full path of the sealed undo log (its integrity sidecar is beside it).</summary>
    public string Path { get; internal init; } = "";

    /// <summary>The undo log's <c>UniqueId</c>.</summary>
    public Guid UniqueId { get; internal init; }

    /// <summary>
    /// Its <c>PreviousUniqueId</c>: the point (last log applied) it must be applied to, so the chain check of
    /// <see cref="LogApplyOptions.ExpectedPreviousUniqueId"/> guards undo logs too.
    /// </summary>
    public Guid AppliesAfter { get; internal init; }

    /// <summary>The point the destination is at after the undo log is applied (the apply's <see cref="LogApplyResult.PreviousUniqueId"/>).</summary>
    public Guid RestoresTo { get; internal init; }

    /// <summary>
    /// True when a complete undo log for this same apply already existed (an apply restarted after a crash) and was kept
    /// rather than captured again from a destination that may already hold part of the new data.
    /// </summary>
    public bool Reused { get; internal init; }
}
