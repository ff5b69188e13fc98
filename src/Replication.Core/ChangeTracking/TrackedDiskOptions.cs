using System.Numerics;
using Replication.Core.ChangeTracking.Hrl;

namespace Replication.Core.ChangeTracking;

/// <summary>How a <see cref="TrackedDisk"/> logs and when it asks for a resync. Immutable; validated when constructed.</summary>
public sealed class TrackedDiskOptions
{
    /// <summary>Creates options.</summary>
    /// <param name="timeProvider">The clock for log time stamps; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logOptions">Layout and buffering of the logs; <see cref="HrlWriterOptions.Default"/> when null.</param>
    /// <param name="resyncThreshold">
    /// Fraction of the disk's size that the sealed logs not yet released plus the active log may reach before
    /// <see cref="ResyncReasons.PendingLogsTooLarge"/> is reported (default 0.5, as Hyper-V; greater than 0, at most 100).
    /// </param>
    /// <param name="writeIntentRegionSize">
    /// Size of a write-intent region, a power of two from 64 KiB to 1 TiB; 0 (the default) picks the smallest power of
    /// two of at least 1 MiB that cuts the disk into at most 1024 regions. Used only when a new chain is started: an
    /// existing chain keeps the size it was started with.
    /// </param>
    /// <param name="verifyPendingLogsOnOpen">
    /// True to hash every sealed log not yet released when the disk is opened (reads them all); false (the default) to
    /// check their length, identity and chain links only, leaving the hash to the check made before shipping.
    /// </param>
    /// <param name="logPreallocation">
    /// Bytes of zeros prepared, after each rotation, as the file of the next log (default 64 MiB; 0 for none; a multiple
    /// of 1 MiB up to 4 GiB). Appends then overwrite allocated space instead of growing a file, which makes each flush's
    /// fsync cheaper; the cost, writing the zeros, is paid by <see cref="TrackedDisk.RotateAsync"/>, not by writers.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public TrackedDiskOptions(
        TimeProvider? timeProvider = null,
        HrlWriterOptions? logOptions = null,
        double resyncThreshold = DefaultResyncThreshold,
        long writeIntentRegionSize = 0,
        bool verifyPendingLogsOnOpen = false,
        long logPreallocation = DefaultLogPreallocation)
    {
        if (logPreallocation < 0 || logPreallocation > 4L << 30 || logPreallocation % (1 << 20) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(logPreallocation), logPreallocation, "The preallocation is a multiple of 1 MiB from 0 to 4 GiB.");
        }

        if (!(resyncThreshold > 0 && resyncThreshold <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(resyncThreshold), resyncThreshold, "The threshold is a fraction of the disk's size, greater than 0 and at most 100.");
        }

        if (writeIntentRegionSize != 0 &&
            (writeIntentRegionSize < 1L << ChangeTrackingState.MinRegionShift || writeIntentRegionSize > 1L << ChangeTrackingState.MaxRegionShift ||
             !BitOperations.IsPow2(writeIntentRegionSize)))
        {
            throw new ArgumentOutOfRangeException(nameof(writeIntentRegionSize), writeIntentRegionSize, "A write-intent region is a power of two from 64 KiB to 1 TiB, or 0 for automatic.");
        }

        TimeProvider = timeProvider ?? TimeProvider.System;
        LogOptions = logOptions ?? HrlWriterOptions.Default;
        ResyncThreshold = resyncThreshold;
        WriteIntentRegionSize = writeIntentRegionSize;
        VerifyPendingLogsOnOpen = verifyPendingLogsOnOpen;
        LogPreallocation = logPreallocation;
    }

    /// <summary>Default <see cref="ResyncThreshold"/>: half the disk.</summary>
    public const double DefaultResyncThreshold = 0.5;

    /// <summary>Default <see cref="LogPreallocation"/>: 64 MiB.</summary>
    public const long DefaultLogPreallocation = 64L << 20;

    /// <summary>The default options.</summary>
    public static TrackedDiskOptions Default { get; } = new();

    /// <summary>The clock for log time stamps.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Layout and buffering of the logs.</summary>
    public HrlWriterOptions LogOptions { get; }

    /// <summary>Fraction of the disk's size the pending logs may reach before a resync is reported.</summary>
    public double ResyncThreshold { get; }

    /// <summary>The write-intent region size asked for; 0 for automatic.</summary>
    public long WriteIntentRegionSize { get; }

    /// <summary>Whether opening hashes every pending sealed log.</summary>
    public bool VerifyPendingLogsOnOpen { get; }

    /// <summary>Bytes of zeros prepared as the next log's file; 0 for none.</summary>
    public long LogPreallocation { get; }

    /// <summary>log2 of the region size for a new chain over a disk of <paramref name="virtualSize"/> bytes.</summary>
    internal int RegionShiftFor(long virtualSize)
    {
        if (WriteIntentRegionSize != 0)
        {
            return BitOperations.Log2((ulong)WriteIntentRegionSize);
        }

        int shift = 20;
        while (shift < ChangeTrackingState.MaxRegionShift && (((virtualSize - 1) >> shift) + 1) > 1024)
        {
            shift++;
        }

        return shift;
    }
}
