namespace Replication.Benchmarks.Transfer;

/// <summary>The image PERFORMANCE.md's seed figures use: every other 32 MiB block random, the rest zero (sparse).</summary>
internal static class HalfZeroImage
{
    /// <summary>Creates the image and returns how many of its 512-byte pages are non-zero.</summary>
    public static long Create(string path, long size)
    {
        using var file = new FileStream(path, FileMode.CreateNew);
        file.SetLength(size);
        var random = new Random(7);
        byte[] block = new byte[1 << 20];
        long pages = 0;
        for (long offset = 0; offset < size; offset += 64L << 20)
        {
            file.Position = offset;
            for (long i = 0; i < Math.Min(32L << 20, size - offset); i += block.Length)
            {
                random.NextBytes(block);
                file.Write(block);
                pages += block.Length / 512;
            }
        }

        return pages;
    }
}
