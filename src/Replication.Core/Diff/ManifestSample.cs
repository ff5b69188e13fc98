using System.Buffers;

namespace Replication.Core.Diff;

/// <summary>
/// Verifies a stored manifest against the disk it claims to describe by re-hashing a random sample of its coarse
/// blocks: a fraction of them (1% by default), at least 16, chosen uniformly without replacement.
/// </summary>
/// <remarks>
/// A sample only catches a change it happens to land on: a change confined to k of N coarse blocks escapes a sample of
/// s blocks with probability C(N-k, s)/C(N, s), about (1 - s/N)^k — 99% for one block changed at 1%. It backs up a
/// stamp check (which catches any write through the file system or the storage service); it never replaces it.
/// </remarks>
internal static class ManifestSample
{
    /// <summary>The fewest blocks a sample re-hashes (all of them when the manifest has fewer).</summary>
    public const int MinimumBlocks = 16;

    /// <summary>Re-hashes the sample; returns the first block whose hash differs from the manifest's, or null.</summary>
    /// <param name="manifest">The manifest to verify.</param>
    /// <param name="read">Reads the described disk: offset, destination.</param>
    /// <param name="fraction">Fraction of coarse blocks to re-hash, in (0, 1].</param>
    /// <param name="random">Chooses the sample.</param>
    /// <param name="tally">Receives the bytes read and the bytes hashed (non-zero blocks) per block.</param>
    /// <param name="cancellationToken">Stops the check.</param>
    public static async Task<int?> FindMismatchAsync(
        BlockManifest manifest,
        Func<long, Memory<byte>, CancellationToken, ValueTask> read,
        double fraction,
        Random random,
        Action<long, long>? tally,
        CancellationToken cancellationToken)
    {
        int blocks = manifest.CoarseBlockCount;
        int coarse = manifest.CoarseBlockSize;
        int count = (int)Math.Min(blocks, Math.Max(MinimumBlocks, Math.Ceiling(blocks * fraction)));
        var chosen = new HashSet<int>();
        for (int j = blocks - count; j < blocks; j++)
        {
            // Floyd's algorithm: count distinct indices, uniformly, in count steps.
            int pick = random.Next(j + 1);
            chosen.Add(chosen.Contains(pick) ? j : pick);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(coarse);
        try
        {
            foreach (int block in chosen.Order())
            {
                long offset = (long)block * coarse;
                int length = (int)Math.Min(coarse, manifest.VirtualSize - offset);
                await read(offset, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                UInt128 hash = ManifestBuildRun.HashCoarseBlock(buffer.AsSpan(0, length), manifest.FineBlockSize);
                tally?.Invoke(length, hash == UInt128.Zero ? 0 : length);
                if (hash != manifest.GetBlockHash(block))
                {
                    return block;
                }
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
