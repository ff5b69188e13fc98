using System.Numerics;

namespace Replication.Core.Diff;

/// <summary>
/// How a <see cref="BlockManifest"/> cuts a disk: coarse blocks (compared first, one XxHash128 each) and fine blocks
/// inside them (compared only where a coarse block differs, one XxHash128 each), and how many threads hash.
/// Immutable; validated when constructed.
/// </summary>
public sealed class ManifestOptions
{
    /// <summary>Default coarse block size: 1 MiB.</summary>
    public const int DefaultCoarseBlockSize = 1 << 20;

    /// <summary>Default fine block size: 4 KiB, the page size guests write in.</summary>
    public const int DefaultFineBlockSize = 4096;

    /// <summary>Smallest block size at either level: one 512-byte sector.</summary>
    public const int MinBlockSize = 512;

    /// <summary>Largest coarse block size: 64 MiB (a coarse block is read and hashed as one buffer).</summary>
    public const int MaxCoarseBlockSize = 64 << 20;

    /// <summary>Creates options; every argument is checked here, so an instance is always valid.</summary>
    /// <param name="coarseBlockSize">Coarse block size in bytes: a power of two from 512 to 64 MiB.</param>
    /// <param name="fineBlockSize">Fine block size in bytes: a power of two, at least 512, at most the coarse block size (so it divides it).</param>
    /// <param name="maxDegreeOfParallelism">Threads that read and hash at once; 0 means one per processor.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not a power of two, is outside its range, or the fine block does not divide the coarse block; or the parallelism is negative.</exception>
    public ManifestOptions(int coarseBlockSize = DefaultCoarseBlockSize, int fineBlockSize = DefaultFineBlockSize, int maxDegreeOfParallelism = 0)
    {
        ValidateBlockSizes(coarseBlockSize, fineBlockSize);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDegreeOfParallelism);
        CoarseBlockSize = coarseBlockSize;
        FineBlockSize = fineBlockSize;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>1 MiB coarse blocks, 4 KiB fine blocks, one hashing thread per processor.</summary>
    public static ManifestOptions Default { get; } = new();

    /// <summary>Coarse block size in bytes.</summary>
    public int CoarseBlockSize { get; }

    /// <summary>Fine block size in bytes; divides <see cref="CoarseBlockSize"/>.</summary>
    public int FineBlockSize { get; }

    /// <summary>Threads that read and hash at once; 0 means one per processor.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>The number of hashing threads these options ask for on this machine (at least one).</summary>
    internal int EffectiveParallelism => MaxDegreeOfParallelism > 0 ? MaxDegreeOfParallelism : Math.Max(1, Environment.ProcessorCount);

    /// <summary>Checks a pair of block sizes: powers of two, multiples of 512, coarse at most 64 MiB, fine dividing coarse.</summary>
    /// <exception cref="ArgumentOutOfRangeException">They are not.</exception>
    internal static void ValidateBlockSizes(long coarseBlockSize, long fineBlockSize)
    {
        if (!IsValidSize(coarseBlockSize) || coarseBlockSize > MaxCoarseBlockSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(coarseBlockSize),
                coarseBlockSize,
                $"The block size {coarseBlockSize} must be a power of two from {MinBlockSize} to {MaxCoarseBlockSize} bytes.");
        }

        if (!IsValidSize(fineBlockSize) || fineBlockSize > coarseBlockSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(fineBlockSize),
                fineBlockSize,
                $"The fine block size {fineBlockSize} must be a power of two, at least {MinBlockSize} bytes and at most the block size {coarseBlockSize}.");
        }
    }

    /// <summary>True for a power of two that is at least 512 (so also a multiple of 512).</summary>
    internal static bool IsValidSize(long size) => size >= MinBlockSize && BitOperations.IsPow2(size);
}
