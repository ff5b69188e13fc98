using System.Buffers;
using Replication.Core.Diff;
using Replication.Core.Disks;

namespace Replication.Core.Transfer;

internal sealed partial class SyncRun
{
    /// <summary>The fewest blocks a sample of the target's stored manifest re-hashes (all of them when it has fewer).</summary>
    internal const int MinimumSampleBlocks = 16;

    /// <summary>
    /// Verifies a stored manifest against the destination it claims to describe by re-hashing a random sample of its
    /// coarse blocks (<see cref="SyncOptions.SampleFraction"/> of them, at least <see cref="MinimumSampleBlocks"/>,
    /// chosen uniformly without replacement with <see cref="SyncOptions.RandomSeed"/>); returns the first block whose
    /// hash differs from the manifest's, or null. The bytes read and hashed count in the result.
    /// </summary>
    /// <remarks>
    /// A sample only catches a change it happens to land on: a change confined to k of N coarse blocks escapes a sample of
    /// s blocks with probability C(N-k, s)/C(N, s), about (1 - s/N)^k — 99% for one block changed at 1%. It backs up a
    /// stamp check (which catches any write through the file system or the storage service); it never replaces it.
    /// </remarks>
    private Task<int?> FindSampleMismatchAsync(BlockManifest manifest, CancellationToken cancellationToken) =>
        FindSampleMismatchAsync(
            manifest,
            [_destination],
            _options.SampleFraction,
            _options.RandomSeed is { } seed ? new Random(seed) : Random.Shared,
            (length, hash) =>
            {
                _result.BytesRead += length;
                _result.DestinationBytesRead += length;
                _result.BytesHashed += hash == UInt128.Zero ? 0 : length;
            },
            cancellationToken);

    /// <summary>
    /// Re-hashes a sample of <paramref name="manifest"/>'s coarse blocks (<paramref name="fraction"/> of them, at least
    /// <see cref="MinimumSampleBlocks"/>, chosen with <paramref name="random"/>) on each of <paramref name="disks"/>, block
    /// by block in ascending order; returns the first block whose hash differs from the manifest's on any of them, or null.
    /// <paramref name="onRead"/> is told of each block read (its length and hash).
    /// </summary>
    internal static async Task<int?> FindSampleMismatchAsync(
        BlockManifest manifest, IReadOnlyList<IDiskSink> disks, double fraction, Random random, Action<int, UInt128>? onRead, CancellationToken cancellationToken)
    {
        int coarse = manifest.CoarseBlockSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(coarse);
        try
        {
            foreach (int block in ChooseSample(manifest.CoarseBlockCount, fraction, random))
            {
                long offset = (long)block * coarse;
                int length = (int)Math.Min(coarse, manifest.VirtualSize - offset);
                foreach (IDiskSink disk in disks)
                {
                    await disk.ReadAsync(offset, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                    UInt128 hash = ManifestBuildRun.HashCoarseBlock(buffer.AsSpan(0, length), manifest.FineBlockSize);
                    onRead?.Invoke(length, hash);
                    if (hash != manifest.GetBlockHash(block))
                    {
                        return block;
                    }
                }
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Distinct block indices in ascending order, chosen uniformly: <paramref name="fraction"/> of <paramref name="blocks"/>,
    /// at least <see cref="MinimumSampleBlocks"/> (all of them when there are fewer).
    /// </summary>
    internal static IEnumerable<int> ChooseSample(int blocks, double fraction, Random random)
    {
        int count = (int)Math.Min(blocks, Math.Max(MinimumSampleBlocks, Math.Ceiling(blocks * fraction)));
        var chosen = new HashSet<int>();
        for (int j = blocks - count; j < blocks; j++)
        {
            // Floyd's algorithm: count distinct indices, uniformly, in count steps.
            int pick = random.Next(j + 1);
            chosen.Add(chosen.Contains(pick) ? j : pick);
        }

        return chosen.Order();
    }
}
