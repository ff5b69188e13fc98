using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// The log apply service (<see cref="ILogApplier"/>): verifies each log's integrity sidecar, refuses a log that does not
/// continue the chain, coalesces the logs, optionally captures an undo log of the pre-images, then writes the extents in
/// ascending disk order through the copy engine and flushes the destination. Stateless between calls; safe to share.
/// </summary>
/// <remarks>
/// <para>
/// Nothing is written to the destination before every check has passed: sidecars (or, for a log without one, every
/// recorded data checksum), headers, every metadata block of every log, chain links, and every extent lying inside the
/// destination and aligned to its <see cref="IDiskSink.WriteAlignment"/>. A log that fails any of them is never partly
/// applied. A log without a sidecar whose writer recorded no data checksums (Hyper-V writes 0) has only its structures
/// checked.
/// </para>
/// <para>
/// Logs that fit <see cref="LogApplyOptions.StagingLimit"/> (together, in the order given) are read from their files once:
/// into pooled memory, hashed as they are read, verified, and then coalesced and written from that memory, so the bytes
/// written are exactly the bytes verified even if a file changes during the apply. A log beyond the limit is hashed from
/// its file and then read again, as the coalescing and the writes need it.
/// </para>
/// <para>
/// Idempotent and restartable: the destination receives absolute data at absolute offsets, so applying the same logs
/// again, or again after a crash half-way, gives the same destination; with a checkpoint, a restarted apply skips what
/// the checkpoint says is durable. The undo log is written beside its final path, sealed, durably renamed and given its
/// sidecar before the first destination write; an apply restarted after that point finds it complete, checks that it was
/// captured for these same logs and extents, and keeps it rather than capturing again from a destination that may
/// already hold part of the new data. An unfinished capture (<c>.partial</c>) is discarded, as no destination byte was
/// written while it existed. Applying to a local replica's writer needs no undo log here: the writer captures the
/// pre-images into its newest recovery point's undo log by itself.
/// </para>
/// </remarks>
public sealed class LogApplier : ILogApplier
{
    /// <summary>Largest record of an undo log: the pre-image of one run of coalesced extents.</summary>
    internal const int UndoChunkSize = 1 << 20;

    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="timeProvider">The clock for the undo log's time stamps, the bandwidth limit, deadlines, back-off, checkpoints and progress; <see cref="TimeProvider.System"/> when null.</param>
    public LogApplier(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>
    /// Whether a disk destination's writes start their write-back as they are made (on unless a benchmark compares
    /// without it; see <see cref="VirtualDisk.WriteBehind"/>).
    /// </summary>
    internal bool WriteBehind { get; init; } = true;

    /// <inheritdoc />
    public async Task<LogApplyResult> ApplyAsync(
        IReadOnlyList<string> logPaths,
        IDiskSink destination,
        LogApplyOptions? options = null,
        IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(logPaths);
        ArgumentNullException.ThrowIfNull(destination);
        if (logPaths.Count == 0)
        {
            throw new ArgumentException("Give at least one log to apply.", nameof(logPaths));
        }

        options ??= LogApplyOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        DiskSynchronizer.ThrowIfReadOnly(destination);

        var readers = new List<HrlReader>(logPaths.Count);
        try
        {
            long stagingLeft = options.StagingLimit;
            foreach (string path in logPaths)
            {
                ArgumentException.ThrowIfNullOrEmpty(path);
                HrlReader reader = OpenVerified(path, options.RequireIntegritySidecar, ref stagingLeft, out bool hashed, cancellationToken);
                readers.Add(reader);
                if (!hashed)
                {
                    // Coalescing reads parts of records, which their whole-record checksums cannot cover: without the
                    // sidecar's hash, every recorded data checksum is checked here, before anything is written.
                    reader.VerifyData(cancellationToken);
                }
            }

            CheckChain(readers, options.ExpectedPreviousUniqueId);
            // The extent table is pooled: disposing gives it back on every path (the engine has finished every read of it
            // by the time RunAsync returns or throws).
            using CoalescedChanges changes = CoalescedChanges.Build(readers, cancellationToken);
            CheckBounds(changes, destination);

            Guid previous = readers[0].Header.PreviousUniqueId;
            Guid last = readers[^1].Header.UniqueId;
            UndoLogInfo? undo = null;
            if (options.UndoLogPath is not null)
            {
                undo = await CaptureUndoAsync(destination, changes, options, previous, last, cancellationToken).ConfigureAwait(false);
            }

            UInt128 key = JobKey(readers, destination);
            CopyCheckpoint? checkpoint = CopyCheckpoint.Load(options.CheckpointPath);
            long resumeFrom = checkpoint is { Kind: CopyKind.Apply } found && found.JobKey == key && found.BytesTotal == changes.Bytes ? found.Watermark : 0;
            var state = new CopyCheckpoint { Kind = CopyKind.Apply, JobKey = key, VirtualSize = destination.VirtualSize, BytesTotal = changes.Bytes, Watermark = resumeFrom };
            // The ranges stream from the coalesced extents as the engine takes them: no list of them is built.
            var engine = new CopyEngine(new LogCopySource(changes), destination, changes.GetChangedRanges().Select(static r => new CopyRange(r.Offset, r.Length, KnownZero: false)), changes.Bytes, options.Transfer, _time)
            {
                ResumeFrom = resumeFrom,
                DoneBefore = resumeFrom == 0 ? 0 : CopyEngine.BytesBelow(changes.GetChangedRanges(), resumeFrom),
                SaveCheckpoint = CopyCheckpoint.Saver(options.CheckpointPath, state),
                Progress = progress is null ? null : snapshot => progress.Report(new TransferProgress(snapshot)),
            };
            // The final flush owes every extent to stable storage: with write-behind their write-back starts as each is
            // written (a disk file destination only; the caller's setting is given back).
            var disk = WriteBehind ? destination as VirtualDisk : null;
            bool wasWritingBehind = disk?.WriteBehind ?? false;
            TransferResult transfer;
            try
            {
                if (disk is not null)
                {
                    disk.WriteBehind = true;
                }

                transfer = await engine.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (disk is not null)
                {
                    disk.WriteBehind = wasWritingBehind;
                }
            }

            if (options.CheckpointPath is { } done)
            {
                DurableFile.Delete(done);
            }

            return new LogApplyResult
            {
                LogCount = readers.Count,
                PreviousUniqueId = previous,
                LastUniqueId = last,
                RecordCount = changes.RecordCount,
                LoggedBytes = changes.LoggedBytes,
                ExtentCount = changes.ExtentCount,
                BytesWritten = changes.Bytes,
                BytesSent = transfer.BytesSent,
                BytesZeroed = transfer.BytesZeroed,
                ResumedFrom = resumeFrom,
                Transfer = transfer,
                UndoLog = undo,
            };
        }
        finally
        {
            foreach (HrlReader reader in readers)
            {
                reader.Dispose();
            }
        }
    }

    /// <summary>Identifies an apply, so a checkpoint is only resumed by the same logs to the same destination.</summary>
    private static UInt128 JobKey(List<HrlReader> readers, IDiskSink destination)
    {
        var hash = new XxHash128();
        hash.Append("repl-apply/1"u8);
        Span<byte> id = stackalloc byte[16];
        foreach (HrlReader reader in readers)
        {
            reader.Header.UniqueId.TryWriteBytes(id);
            hash.Append(id);
            reader.Header.PreviousUniqueId.TryWriteBytes(id);
            hash.Append(id);
        }

        hash.Append(System.Text.Encoding.UTF8.GetBytes(destination.Location));
        BinaryPrimitives.WriteInt64LittleEndian(id, destination.VirtualSize);
        hash.Append(id[..8]);
        return hash.GetCurrentHashAsUInt128();
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

    /// <summary>
    /// Opens a log for the apply, its sidecar (when required or present) verified first. A log that fits what is left
    /// of <paramref name="stagingLeft"/> is read once into memory, hashed as it is read, and everything after reads those
    /// verified bytes (<see cref="HrlReader.TryOpenStaged"/>); a larger one is hashed from the file, then read again by
    /// the coalescing and the writes.
    /// </summary>
    /// <returns>The reader; <paramref name="hashed"/> is true when the log's sidecar was checked.</returns>
    private static HrlReader OpenVerified(string path, bool required, ref long stagingLeft, out bool hashed, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        HrlSidecar? sidecar = required || File.Exists(HrlIntegrity.GetSidecarPath(full)) ? HrlIntegrity.ReadSidecar(full) : null;
        hashed = sidecar is not null;
        if (HrlReader.TryOpenStaged(full, stagingLeft, sidecar, cancellationToken) is { } staged)
        {
            stagingLeft -= staged.FileLength;
            return staged;
        }

        if (sidecar is { } expected)
        {
            HrlIntegrity.VerifySidecar(full, expected, cancellationToken);
        }

        return HrlReader.Open(full);
    }

    private static void CheckBounds(CoalescedChanges changes, IDiskSink destination)
    {
        ReadOnlySpan<CoalescedExtent> extents = changes.ExtentSpan;
        if (extents.Length > 0 && extents[^1].End > destination.VirtualSize)
        {
            CoalescedExtent extent = extents[^1];
            throw MisplacedData(changes, extent, string.Create(CultureInfo.InvariantCulture, $"the data here is for disk offsets up to {extent.End}, beyond the {destination.VirtualSize}-byte destination {destination.Location}"));
        }

        int alignment = destination.WriteAlignment;
        if (alignment > 1)
        {
            foreach (CoalescedExtent extent in extents)
            {
                if (extent.DiskOffset % alignment != 0 || extent.End % alignment != 0)
                {
                    throw MisplacedData(changes, extent, string.Create(CultureInfo.InvariantCulture, $"the data here is for disk offsets [{extent.DiskOffset}, {extent.End}), not aligned to the {alignment}-byte writes {destination.Location} takes"));
                }
            }
        }
    }

    /// <summary>The error for an extent's data that the destination cannot take where the log puts it.</summary>
    private static InvalidLogFormatException MisplacedData(CoalescedChanges changes, CoalescedExtent extent, string detail) =>
        new(changes.Logs[extent.LogIndex].FilePath, extent.FileOffset, "HRL data", "ByteOffset", detail);

    private async Task<UndoLogInfo> CaptureUndoAsync(
        IDiskSink target,
        CoalescedChanges changes,
        LogApplyOptions options,
        Guid previous,
        Guid last,
        CancellationToken cancellationToken)
    {
        string final = Path.GetFullPath(options.UndoLogPath!);
        string partial = final + HrlFormat.PartialSuffix;
        if (File.Exists(final))
        {
            return ReuseUndo(final, changes, UndoChunkSize, previous, last, cancellationToken);
        }

        File.Delete(partial);
        var identity = new HrlLogIdentity(Guid.NewGuid(), last, Guid.Empty);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(UndoChunkSize);
        try
        {
            using (HrlWriter writer = HrlWriter.Create(partial, identity, _time, options.UndoLogOptions))
            {
                foreach (ApplyChunk chunk in Chunks(changes.Extents, UndoChunkSize))
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
        return new UndoLogInfo { Path = final, UniqueId = identity.UniqueId, AppliesAfter = last, RestoresTo = previous, Reused = false };
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

        return new UndoLogInfo { Path = final, UniqueId = existing.Header.UniqueId, AppliesAfter = last, RestoresTo = previous, Reused = true };
    }

    /// <summary>A run of disk-contiguous coalesced data, written with one target write.</summary>
    internal readonly record struct ApplyChunk(long DiskOffset, int Length, int FirstExtent, long FirstExtentOffset);
}

/// <summary>The coalesced data of sealed logs as a copy source: a range inside the changed ranges is read from the logs' newest bytes.</summary>
internal sealed class LogCopySource(CoalescedChanges changes) : ICopySource
{
    public string Location => changes.Logs.Count == 1 ? changes.Logs[0].FilePath : $"{changes.Logs[0].FilePath} and {changes.Logs.Count - 1} more logs";

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ReadOnlySpan<CoalescedExtent> extents = changes.ExtentSpan;
        int i = FirstEnding(extents, offset);
        Span<byte> span = destination.Span;
        int done = 0;
        while (done < span.Length)
        {
            CoalescedExtent extent = extents[i];
            long at = offset + done;
            long inExtent = at - extent.DiskOffset;
            if (inExtent < 0)
            {
                throw new InvalidOperationException($"[{at}, {offset + span.Length}) is not covered by the logs' extents.");
            }

            int take = (int)Math.Min(extent.Length - inExtent, span.Length - done);
            changes.ReadData(extent, inExtent, span.Slice(done, take));
            done += take;
            i++;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Index of the first extent that ends after <paramref name="offset"/> (extents are ascending and disjoint).</summary>
    private static int FirstEnding(ReadOnlySpan<CoalescedExtent> extents, long offset)
    {
        int low = 0;
        int high = extents.Length - 1;
        while (low < high)
        {
            int middle = (low + high) >>> 1;
            if (extents[middle].End <= offset)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}
