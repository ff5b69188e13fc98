using Replication.Core.Disks;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>Byte-for-byte comparisons of disks, files and models, reporting the first differing offset.</summary>
public static class DiskAssert
{
    /// <summary>Asserts that the whole disk reads equal to <paramref name="expected"/>.</summary>
    public static void ContentEquals(ReadOnlySpan<byte> expected, IVirtualDisk disk)
    {
        Assert.Equal(expected.Length, disk.VirtualSize);
        byte[] buffer = new byte[1 << 20];
        for (long offset = 0; offset < expected.Length; offset += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, expected.Length - offset);
            disk.Read(offset, buffer.AsSpan(0, n));
            AssertChunk(expected.Slice((int)offset, n), buffer.AsSpan(0, n), offset, disk.FilePath ?? "disk");
        }
    }

    /// <summary>Asserts that a disk reads equal to a raw file (for example qemu-img's conversion of the same image).</summary>
    public static void ContentEqualsFile(string rawPath, IVirtualDisk disk)
    {
        using FileStream raw = File.OpenRead(rawPath);
        Assert.Equal(raw.Length, disk.VirtualSize);
        byte[] expected = new byte[1 << 20];
        byte[] actual = new byte[1 << 20];
        for (long offset = 0; offset < raw.Length; offset += expected.Length)
        {
            int n = (int)Math.Min(expected.Length, raw.Length - offset);
            raw.ReadExactly(expected, 0, n);
            disk.Read(offset, actual.AsSpan(0, n));
            AssertChunk(expected.AsSpan(0, n), actual.AsSpan(0, n), offset, disk.FilePath ?? "disk");
        }
    }

    /// <summary>Asserts that two files have identical bytes.</summary>
    public static void FilesEqual(string expectedPath, string actualPath)
    {
        byte[] a = File.ReadAllBytes(expectedPath);
        byte[] b = File.ReadAllBytes(actualPath);
        Assert.Equal(a.Length, b.Length);
        AssertChunk(a, b, 0, actualPath);
    }

    private static void AssertChunk(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, long baseOffset, string what)
    {
        if (!expected.SequenceEqual(actual))
        {
            int i = 0;
            while (expected[i] == actual[i])
            {
                i++;
            }

            throw new Xunit.Sdk.XunitException(
                $"{what}: first difference at byte {baseOffset + i}: expected 0x{expected[i]:X2}, read 0x{actual[i]:X2}.");
        }
    }
}
