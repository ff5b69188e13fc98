namespace Replication.TestChild;

/// <summary>
/// The deterministic write sequence shared by the child that performs it and the test that checks what survived:
/// write i of a seed always has the same offset, length and bytes.
/// </summary>
public static class CrashWorkload
{
    /// <summary>Offset, length and content of write <paramref name="index"/>.</summary>
    public static (long Offset, byte[] Data) Write(int seed, int index, long diskSize, int maxLength)
    {
        // Not HashCode.Combine: its seed differs per process, and parent and child must agree.
        var random = new Random(unchecked((seed * 1_000_003) + index));
        int length = random.Next(1, maxLength + 1);
        if (random.Next(2) == 0)
        {
            // Half the writes are sector-aligned, as a guest's are; the rest exercise read-modify-write.
            length = Math.Max(512, length / 512 * 512);
        }

        long offset = random.NextInt64(0, diskSize - length + 1);
        if (length % 512 == 0)
        {
            offset = offset / 512 * 512;
        }

        byte[] data = new byte[length];
        random.NextBytes(data);
        return (offset, data);
    }
}
