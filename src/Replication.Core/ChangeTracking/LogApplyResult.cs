namespace Replication.Core.ChangeTracking;

/// <summary>What <see cref="LogApplier.ApplyAsync"/> did.</summary>
/// <param name="LogCount">Logs applied.</param>
/// <param name="PreviousUniqueId">The first log's <c>PreviousUniqueId</c>: the point the target was at before.</param>
/// <param name="LastUniqueId">The last log's <c>UniqueId</c>: the point the target is at now.</param>
/// <param name="RecordCount">Records in the logs.</param>
/// <param name="LoggedBytes">Bytes of data in the records.</param>
/// <param name="ExtentCount">Coalesced extents written.</param>
/// <param name="BytesWritten">Bytes written to the target (the coalesced extents' total).</param>
/// <param name="UndoLog">The undo log, when one was asked for.</param>
public sealed record LogApplyResult(
    int LogCount,
    Guid PreviousUniqueId,
    Guid LastUniqueId,
    long RecordCount,
    long LoggedBytes,
    int ExtentCount,
    long BytesWritten,
    UndoLogInfo? UndoLog);

/// <summary>An undo log captured by <see cref="LogApplier"/>: the pre-images of the ranges an apply overwrote.</summary>
/// <param name="Path">Full path of the sealed undo log (its integrity sidecar is beside it).</param>
/// <param name="UniqueId">The undo log's <c>UniqueId</c>.</param>
/// <param name="AppliesAfter">
/// Its <c>PreviousUniqueId</c>: the point (last log applied) it must be applied to, so the chain check of
/// <see cref="LogApplyOptions.ExpectedPreviousUniqueId"/> guards undo logs too.
/// </param>
/// <param name="RestoresTo">The point the target is at after the undo log is applied (the apply's <see cref="LogApplyResult.PreviousUniqueId"/>).</param>
/// <param name="Reused">
/// True when a complete undo log for this same apply already existed (an apply restarted after a crash) and was kept
/// rather than captured again from a target that may already hold part of the new data.
/// </param>
public sealed record UndoLogInfo(string Path, Guid UniqueId, Guid AppliesAfter, Guid RestoresTo, bool Reused);
