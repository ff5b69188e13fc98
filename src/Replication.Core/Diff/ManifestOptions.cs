using System.Numerics;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>
/// How a <see cref="BlockManifest"/> cuts a disk: coarse blocks (compared first, one XxHash128 each) and fine blocks
/// inside them (compared only where a coarse block differs, one XxHash128 each), and how many threads hash.
/// Immutable; <see cref="Validate"/> lists what is wrong, and every operation refuses invalid options with an
/// <see cref="ArgumentException"/> before it starts.
/// </summary>
public sealed record ManifestOptions
{
    /// <summary>Default coarse block size: 1 MiB.</summary>
    public const int DefaultCoarseBlockSize = 1 << 20;

    /// <summary>Default fine block size: 4 KiB, the page size guests write in.</summary>
    public const int DefaultFineBlockSize = 4096;

    /// <summary>Smallest block size at either level: one 512-byte sector.</summary>
    public const int MinBlockSize = 512;

    /// <summary>Largest coarse block size: 64 MiB (a coarse block is read and hashed as one buffer).</summary>
    public const int MaxCoarseBlockSize = 64 << 20;

    /// <summary>1 MiB coarse blocks, 4 KiB fine blocks, one hashing thread per processor.</summary>
    public static ManifestOptions Default { get; } = new();

    /// <summary>Coarse block size in bytes: a power of two from 512 to 64 MiB.</summary>
    public int CoarseBlockSize { get; init; } = DefaultCoarseBlockSize;

    /// <summary>Fine block size in bytes: a power of two, at least 512, at most <see cref="CoarseBlockSize"/> (so it divides it).</summary>
    public int FineBlockSize { get; init; } = DefaultFineBlockSize;

    /// <summary>Threads that read and hash at once; 0 (the default) means one per processor.</summary>
    public int MaxDegreeOfParallelism { get; init; }

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .When(!IsValidSize(CoarseBlockSize) || CoarseBlockSize > MaxCoarseBlockSize, nameof(CoarseBlockSize), $"must be a power of two from {MinBlockSize} to {MaxCoarseBlockSize} bytes (was {CoarseBlockSize})")
        .When(!IsValidSize(FineBlockSize) || FineBlockSize > CoarseBlockSize, nameof(FineBlockSize), $"must be a power of two, at least {MinBlockSize} bytes and at most the block size {CoarseBlockSize} (was {FineBlockSize})")
        .When(MaxDegreeOfParallelism < 0, nameof(MaxDegreeOfParallelism), "must not be negative")
        .Failures;

    /// <summary>The number of hashing threads these options ask for on this machine (at least one).</summary>
    internal int EffectiveParallelism => MaxDegreeOfParallelism > 0 ? MaxDegreeOfParallelism : Math.Max(1, Environment.ProcessorCount);

    /// <summary>True for a power of two that is at least 512 (so also a multiple of 512).</summary>
    internal static bool IsValidSize(long size) => size >= MinBlockSize && BitOperations.IsPow2(size);
}
