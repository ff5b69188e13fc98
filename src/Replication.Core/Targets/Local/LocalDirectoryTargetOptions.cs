using Replication.Core.Disks;

namespace Replication.Core.Targets.Local;

/// <summary>How a <see cref="LocalDirectoryTarget"/> stores its replica and runs its fence. Immutable; validated when set.</summary>
public sealed record LocalDirectoryTargetOptions
{
    /// <summary>The site's replica format (a fixed VHD for a new site), 60 s leases, 30 s fence wait, 64 KiB undo chunks, the system clock.</summary>
    public static LocalDirectoryTargetOptions Default { get; } = new();

    /// <summary>
    /// The replica's file format: <see cref="DiskFormat.Vhd"/> (a fixed VHD, bootable and uploadable as is),
    /// <see cref="DiskFormat.Vhdx"/> (fixed) or <see cref="DiskFormat.Raw"/>; null (the default) for the format of the
    /// replica the site already holds, or a fixed VHD for a new one. A site holds one replica: asking for another
    /// format than the existing replica's is refused.
    /// </summary>
    public DiskFormat? ReplicaFormat
    {
        get;
        init
        {
            if (value is { } format && !Enum.IsDefined(format))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown disk format.");
            }

            field = value;
        }
    }

    /// <summary>How long a writer's fence lasts unless renewed; <see cref="Timeout.InfiniteTimeSpan"/> for until released.</summary>
    public TimeSpan LeaseDuration
    {
        get;
        init
        {
            if (value != Timeout.InfiniteTimeSpan)
            {
                ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            }

            field = value;
        }
    } = TimeSpan.FromSeconds(60);

    /// <summary>How long acquiring or checking the fence waits for another writer's changes in flight.</summary>
    public TimeSpan FenceWaitTimeout
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    } = TimeSpan.FromSeconds(30);

    /// <summary>Size of the chunks whose pre-images recovery points capture: a power of two from 4 KiB to 4 MiB.</summary>
    public int UndoChunkSize
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 4096);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 4 << 20);
            if (!int.IsPow2(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The undo chunk size must be a power of two.");
            }

            field = value;
        }
    } = 64 * 1024;

    /// <summary>The clock that leases are measured with.</summary>
    public TimeProvider TimeProvider
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
        }
    } = TimeProvider.System;
}
