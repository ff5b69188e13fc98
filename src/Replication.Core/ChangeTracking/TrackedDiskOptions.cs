using System.Numerics;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking;

/// <summary>
/// How a <see cref="TrackedDisk"/> logs and when it asks for a resync. Immutable; <see cref="Validate"/> lists what is
/// wrong, and <see cref="TrackedDisk.Open"/> refuses invalid options with an <see cref="ArgumentException"/>.
/// </summary>
public sealed record TrackedDiskOptions
{
    /// <summary>Default <see cref="ResyncThreshold"/>: half the disk.</summary>
    public const double DefaultResyncThreshold = 0.5;

    /// <summary>Default <see cref="LogPreallocation"/>: 64 MiB.</summary>
    public const long DefaultLogPreallocation = 64L << 20;

    /// <summary>The default options.</summary>
    public static TrackedDiskOptions Default { get; } = new();

    /// <summary>Layout and buffering of the logs.</summary>
    public HrlWriterOptions LogOptions { get; init; } = HrlWriterOptions.Default;

    /// <summary>
    /// Fraction of the disk's size that the sealed logs not yet released plus the active log may reach before
    /// <see cref="ResyncReasons.PendingLogsTooLarge"/> is reported (default 0.5, as Hyper-V; greater than 0, at most 100).
    /// </summary>
    public double ResyncThreshold { get; init; } = DefaultResyncThreshold;

    /// <summary>
    /// Size of a write-intent region, a power of two from 64 KiB to 1 TiB; 0 (the default) picks the smallest power of
    /// two of at least 1 MiB that cuts the disk into at most 1024 regions. Used only when a new chain is started: an
    /// existing chain keeps the size it was started with.
    /// </summary>
    public long WriteIntentRegionSize { get; init; }

    /// <summary>
    /// True to hash every sealed log not yet released when the disk is opened (reads them all); false (the default) to
    /// check their length, identity and chain links only, leaving the hash to the check made before shipping.
    /// </summary>
    public bool VerifyPendingLogsOnOpen { get; init; }

    /// <summary>
    /// Bytes of zeros prepared, after each rotation, as the file of the next log (default 64 MiB; 0 for none; a multiple
    /// of 1 MiB up to 4 GiB). Appends then overwrite allocated space instead of growing a file, which makes each flush's
    /// fsync cheaper; the cost, writing the zeros, is paid by <see cref="TrackedDisk.RotateAsync"/>, not by writers.
    /// </summary>
    public long LogPreallocation { get; init; } = DefaultLogPreallocation;

    /// <summary>The clock for log time stamps: the one given to <see cref="TrackedDisk.Open"/>.</summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Nested(LogOptions?.Validate(), nameof(LogOptions))
        .When(!(ResyncThreshold > 0 && ResyncThreshold <= 100), nameof(ResyncThreshold), "must be a fraction of the disk's size, greater than 0 and at most 100")
        .When(
            WriteIntentRegionSize != 0 && (WriteIntentRegionSize < 1L << ChangeTrackingState.MinRegionShift || WriteIntentRegionSize > 1L << ChangeTrackingState.MaxRegionShift || !BitOperations.IsPow2(WriteIntentRegionSize)),
            nameof(WriteIntentRegionSize),
            "must be a power of two from 64 KiB to 1 TiB, or 0 for automatic")
        .When(LogPreallocation < 0 || LogPreallocation > 4L << 30 || LogPreallocation % (1 << 20) != 0, nameof(LogPreallocation), "must be a multiple of 1 MiB from 0 to 4 GiB")
        .Failures;

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
