using System.Buffers;
using System.Globalization;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// Applies sealed logs, in chain order, to any <see cref="IVirtualDisk"/>: verifies each log's integrity sidecar,
/// refuses a log that does not continue the chain, coalesces the logs (the last write wins per byte; overwritten data is
/// never read), optionally captures an undo log of the pre-images, then writes the extents in ascending disk order with
/// pooled buffers and bounded parallelism, and flushes the target.
/// </summary>
/// <remarks>
/// <para>
/// Nothing is written to the target before every check has passed: sidecars (or, for a log without one, every
/// recorded data checksum), headers, every metadata block of every log, chain links, and every extent lying inside the
/// target. A log that fails any of them is never partly applied. A log without a sidecar whose writer recorded no data
/// checksums (Hyper-V writes 0) has only its structures checked.
/// </para>
/// <para>
/// Idempotent and restartable: the target receives absolute data at absolute offsets, so applying the same logs again,
/// or again after a crash half-way, gives the same target. The undo log is written beside its final path, sealed,
/// durably renamed and given its sidecar before the first target write; an apply restarted after that point finds it
/// complete, checks that it was captured for these same logs and extents, and keeps it rather than capturing again
/// from a target that may already hold part of the new data. An unfinished capture (<c>.partial</c>) is discarded, as
/// no target byte was written while it existed.
/// </para>
/// </remarks>
public static class LogApplier
{
    /// <summary>Suffix of the undo log while it is being captured.</summary>
    public const string PartialSuffix = ".partial";

    /// <summary>Applies sealed logs (in chain order) to <paramref name="target"/>; durable on the target when it returns.</summary>
    /// <param name="target">The disk to write; writable.</param>
    /// <param name="logPaths">The logs, oldest first.</param>
    /// <param name="options">Chain point, undo log, parallelism; <see cref="LogApplyOptions.Default"/> when null.</param>
    /// <param name="cancellationToken">Cancels the apply; a cancelled apply may have written part of the data (apply again).</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="ArgumentException">No log is given.</exception>
    /// <exception cref="NotSupportedException">The target is read-only.</exception>
    /// <exception cref="InvalidLogFormatException">
    /// A log or sidecar is corrupt, a log is not sealed, a log's integrity check fails, or a write lies beyond the target.
    /// </exception>
    /// <exception cref="ReplicationException">
    /// A log does not continue the chain (<see cref="ReplicationErrorCode.ChainBroken"/>); a log or required sidecar does
    /// not exist (<see cref="ReplicationErrorCode.NotFound"/>); an undo log of another apply is in the way
    /// (<see cref="ReplicationErrorCode.ChainBroken"/>).
    /// </exception>
    public static async Task<LogApplyResult> ApplyAsync(
        IVirtualDisk target,
        IReadOnlyList<string> logPaths,
        LogApplyOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(logPaths);
        if (logPaths.Count == 0)
        {
            throw new ArgumentException("Give at least one log to apply.", nameof(logPaths));
        }

        options ??= LogApplyOptions.Default;
        if (target.IsReadOnly)
        {
            throw new NotSupportedException($"{target.FilePath ?? "disk"}: the target disk is open read-only.");
        }

        var readers = new List<HrlReader>(logPaths.Count);
        try
        {
            foreach (string path in logPaths)
            {
                ArgumentException.ThrowIfNullOrEmpty(path);
                bool hashed = VerifyIntegrity(path, options.RequireIntegritySidecar, cancellationToken);
                HrlReader reader = HrlReader.Open(path);
                readers.Add(reader);
                if (!hashed)
                {
                    // Coalescing reads parts of records, which their whole-record checksums cannot cover: without the
                    // sidecar's hash, every recorded data checksum is checked here, before anything is written.
                    reader.VerifyData(cancellationToken);
                }
            }

            CheckChain(readers, options.ExpectedPreviousUniqueId);
            CoalescedChanges changes = CoalescedChanges.Build(readers, cancellationToken);
            CheckBounds(changes, target);

            Guid previous = readers[0].Header.PreviousUniqueId;
            Guid last = readers[^1].Header.UniqueId;
            UndoLogInfo? undo = null;
            if (options.UndoLogPath is not null)
            {
                undo = await CaptureUndoAsync(target, changes, options, previous, last, cancellationToken).ConfigureAwait(false);
            }

            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(
                Chunks(changes.Extents, options.ChunkSize),
                parallel,
                (chunk, token) => WriteChunkAsync(target, changes, chunk, token)).ConfigureAwait(false);
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);

            return new LogApplyResult(
                readers.Count,
                previous,
                last,
                changes.RecordCount,
                changes.LoggedBytes,
                changes.Extents.Count,
                changes.Bytes,
                undo);
        }
        finally
        {
            foreach (HrlReader reader in readers)
            {
                reader.Dispose();
            }
        }
    }

    /// <summary>
    /// Checks that logs (given oldest first) form a chain: each names the previous one as its <c>PreviousUniqueId</c>,
    /// and the first names <paramref name="expectedPrevious"/> when given.
    /// </summary>
    /// <exception cref="ReplicationException">A gap or fork (<see cref="ReplicationErrorCode.ChainBroken"/>).</exception>
    internal static void CheckChain(IReadOnlyList<HrlReader> readers, Guid? expectedPrevious)
    {
        for (int i = 0; i < readers.Count; i++)
        {
            HrlFileHeader header = readers[i].Header;
            Guid expected = i == 0 ? expectedPrevious ?? header.PreviousUniqueId : readers[i - 1].Header.UniqueId;
            if (header.PreviousUniqueId != expected)
            {
                string after = i == 0 ? "the target's point" : $"the log before it ({readers[i - 1].FilePath})";
                throw new ReplicationException(
                    ReplicationErrorCode.ChainBroken,
                    false,
                    $"{readers[i].FilePath}: the log does not continue the chain: its PreviousUniqueId is {header.PreviousUniqueId:D} but {after} is {expected:D}.");
            }
        }
    }

    /// <summary>The disk-contiguous runs of extents, cut at <paramref name="chunkSize"/>, ascending.</summary>
    internal static IEnumerable<ApplyChunk> Chunks(IReadOnlyList<CoalescedExtent> extents, int chunkSize)
    {
        int i = 0;
        long inExtent = 0;
        while (i < extents.Count)
        {
            long start = extents[i].DiskOffset + inExtent;
            int first = i;
            long firstOffset = inExtent;
            int length = 0;
            while (i < extents.Count && length < chunkSize)
            {
                CoalescedExtent extent = extents[i];
                if (length > 0 && extent.DiskOffset + inExtent != start + length)
                {
                    break;
                }

                int take = (int)Math.Min(extent.Length - inExtent, chunkSize - length);
                length += take;
                inExtent += take;
                if (inExtent == extent.Length)
                {
                    i++;
                    inExtent = 0;
                }
            }

            yield return new ApplyChunk(start, length, first, firstOffset);
        }
    }

    /// <summary>Reads the newest data of a chunk from the logs.</summary>
    internal static void ReadChunk(CoalescedChanges changes, ApplyChunk chunk, Span<byte> destination)
    {
        IReadOnlyList<CoalescedExtent> extents = changes.Extents;
        int i = chunk.FirstExtent;
        long inExtent = chunk.FirstExtentOffset;
        int done = 0;
        while (done < chunk.Length)
        {
            CoalescedExtent extent = extents[i];
            int take = (int)Math.Min(extent.Length - inExtent, chunk.Length - done);
            changes.ReadData(extent, inExtent, destination.Slice(done, take));
            done += take;
            i++;
            inExtent = 0;
        }
    }

    private static async ValueTask WriteChunkAsync(IVirtualDisk target, CoalescedChanges changes, ApplyChunk chunk, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk.Length);
        try
        {
            ReadChunk(changes, chunk, buffer.AsSpan(0, chunk.Length));
            await target.WriteAsync(chunk.DiskOffset, buffer.AsMemory(0, chunk.Length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <returns>True when the log's sidecar was checked.</returns>
    private static bool VerifyIntegrity(string path, bool required, CancellationToken cancellationToken)
    {
        if (required)
        {
            HrlIntegrity.VerifySidecar(path, cancellationToken);
            return true;
        }

        return HrlIntegrity.VerifySidecarIfPresent(path, cancellationToken);
    }

    private static void CheckBounds(CoalescedChanges changes, IVirtualDisk target)
    {
        IReadOnlyList<CoalescedExtent> extents = changes.Extents;
        if (extents.Count > 0 && extents[^1].End > target.VirtualSize)
        {
            CoalescedExtent extent = extents[^1];
            HrlReader log = changes.Logs[extent.LogIndex];
            throw new InvalidLogFormatException(
                log.FilePath,
                extent.FileOffset,
                "HRL data",
                "ByteOffset",
                string.Create(CultureInfo.InvariantCulture, $"the data here is for disk offsets up to {extent.End}, beyond the {target.VirtualSize}-byte target {target.FilePath ?? "disk"}"));
        }
    }

    private static async Task<UndoLogInfo> CaptureUndoAsync(
        IVirtualDisk target,
        CoalescedChanges changes,
        LogApplyOptions options,
        Guid previous,
        Guid last,
        CancellationToken cancellationToken)
    {
        string final = Path.GetFullPath(options.UndoLogPath!);
        string partial = final + PartialSuffix;
        if (File.Exists(final))
        {
            return ReuseUndo(final, changes, options.ChunkSize, previous, last, cancellationToken);
        }

        File.Delete(partial);
        var identity = new HrlLogIdentity(Guid.NewGuid(), last, target.DataWriteGuid ?? Guid.Empty);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(options.ChunkSize);
        try
        {
            using (HrlWriter writer = HrlWriter.Create(partial, identity, options.TimeProvider, options.UndoLogOptions))
            {
                foreach (ApplyChunk chunk in Chunks(changes.Extents, options.ChunkSize))
                {
                    Memory<byte> preImage = buffer.AsMemory(0, chunk.Length);
                    await target.ReadAsync(chunk.DiskOffset, preImage, cancellationToken).ConfigureAwait(false);
                    writer.Append(chunk.DiskOffset, preImage.Span);
                }

                writer.Seal();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        DurableFile.Move(partial, final, overwrite: false);
        HrlIntegrity.WriteSidecar(final, cancellationToken);
        return new UndoLogInfo(final, identity.UniqueId, last, previous, Reused: false);
    }

    private static UndoLogInfo ReuseUndo(string final, CoalescedChanges changes, int chunkSize, Guid previous, Guid last, CancellationToken cancellationToken)
    {
        using HrlReader existing = HrlReader.Open(final);
        if (!File.Exists(HrlIntegrity.GetSidecarPath(final)))
        {
            // Sealed and renamed, then a crash before its sidecar: every structure and data checksum is checked instead.
            existing.VerifyData(cancellationToken);
            HrlIntegrity.WriteSidecar(final, cancellationToken);
        }
        else
        {
            HrlIntegrity.VerifySidecar(final, cancellationToken);
        }

        bool same = existing.Header.PreviousUniqueId == last;
        if (same)
        {
            using IEnumerator<HrlRecord> records = existing.ReadRecords().GetEnumerator();
            foreach (ApplyChunk chunk in Chunks(changes.Extents, chunkSize))
            {
                if (!records.MoveNext() || records.Current.DiskOffset != chunk.DiskOffset || records.Current.Length != chunk.Length)
                {
                    same = false;
                    break;
                }
            }

            same = same && !records.MoveNext();
        }

        if (!same)
        {
            throw new ReplicationException(
                ReplicationErrorCode.ChainBroken,
                false,
                $"{final}: an undo log already exists there and was not captured for these logs (it follows {existing.Header.PreviousUniqueId:D}, these end at {last:D}); choose another path.");
        }

        return new UndoLogInfo(final, existing.Header.UniqueId, last, previous, Reused: true);
    }

    /// <summary>A run of disk-contiguous coalesced data, written with one target write.</summary>
    internal readonly record struct ApplyChunk(long DiskOffset, int Length, int FirstExtent, long FirstExtentOffset);
}
