using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Targets.Local;

/// <summary>
/// How a <see cref="LocalDirectoryTarget"/> stores its replica and runs its fence. Immutable; <see cref="Validate"/> lists
/// what is wrong, and the target refuses invalid options with an <see cref="ArgumentException"/> when it is created.
/// </summary>
public sealed record LocalDirectoryTargetOptions
{
    /// <summary>The site's replica format (a fixed VHD for a new site), 60 s leases, 30 s fence wait, 64 KiB undo chunks.</summary>
    public static LocalDirectoryTargetOptions Default { get; } = new();

    /// <summary>
    /// The replica's file format: <see cref="DiskFormat.Vhd"/> (a fixed VHD, bootable and uploadable as is),
    /// <see cref="DiskFormat.Vhdx"/> (fixed) or <see cref="DiskFormat.Raw"/>; null (the default) for the format of the
    /// replica the site already holds, or a fixed VHD for a new one. A site holds one replica: asking for another
    /// format than the existing replica's is refused.
    /// </summary>
    public DiskFormat? ReplicaFormat { get; init; }

    /// <summary>How long a writer's fence lasts unless renewed: positive, or <see cref="Timeout.InfiniteTimeSpan"/> for until released.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long acquiring or checking the fence waits for another writer's changes in flight; zero or more.</summary>
    public TimeSpan FenceWaitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Size of the chunks whose pre-images recovery points capture: a power of two from 4 KiB to 4 MiB.</summary>
    public int UndoChunkSize { get; init; } = 64 * 1024;

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .When(ReplicaFormat is { } format && !Enum.IsDefined(format), nameof(ReplicaFormat), "is not a known disk format")
        .Range(LeaseDuration, TimeSpan.FromTicks(1), TimeSpan.MaxValue, nameof(LeaseDuration), allowInfinite: true)
        .Range(FenceWaitTimeout, TimeSpan.Zero, TimeSpan.MaxValue, nameof(FenceWaitTimeout))
        .Range(UndoChunkSize, 4096, 4 << 20, nameof(UndoChunkSize))
        .When(!int.IsPow2(UndoChunkSize), nameof(UndoChunkSize), "must be a power of two")
        .Failures;
}
