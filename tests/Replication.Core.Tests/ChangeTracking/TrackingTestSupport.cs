using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>Helpers shared by the change tracking tests.</summary>
internal static class TrackingTestSupport
{
    /// <summary>Small blocks, buffers, regions and preallocation: many batches, regions and spare files in small tests.</summary>
    public static TrackedDiskOptions Options(long regionSize = 1 << 20, double threshold = 50, long preallocation = 1 << 20) => new()
    {
        LogOptions = new HrlWriterOptions { MetadataSize = 1024, BufferSize = 16384 },
        ResyncThreshold = threshold,
        WriteIntentRegionSize = regionSize,
        LogPreallocation = preallocation,
    };

    public static byte[] ReadAll(IVirtualDisk disk)
    {
        byte[] bytes = new byte[disk.VirtualSize];
        disk.Read(0, bytes);
        return bytes;
    }

    public static byte[] Random(int seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The records of sealed logs, in chain order, as (offset, data).</summary>
    public static List<(long Offset, byte[] Data)> Records(IEnumerable<string> logs)
    {
        var records = new List<(long, byte[])>();
        foreach (string path in logs)
        {
            using HrlReader reader = HrlReader.Open(path);
            foreach (HrlRecord record in reader.ReadRecords())
            {
                byte[] data = new byte[record.Length];
                reader.ReadData(record, data);
                records.Add((record.DiskOffset, data));
            }
        }

        return records;
    }

    /// <summary>Applies records one by one to a model (the definition coalescing and apply must agree with).</summary>
    public static void Replay(byte[] model, IEnumerable<(long Offset, byte[] Data)> records)
    {
        foreach ((long offset, byte[] data) in records)
        {
            data.CopyTo(model, offset);
        }
    }

    /// <summary>Asserts two images differ only inside <paramref name="ranges"/>.</summary>
    public static void DifferOnlyInside(byte[] expected, byte[] actual, IReadOnlyList<DiskExtent> ranges, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i] && !ranges.Any(r => i >= r.Offset && i < r.End))
            {
                throw new Xunit.Sdk.XunitException($"{what}: byte {i} differs (0x{expected[i]:X2} vs 0x{actual[i]:X2}) outside the {ranges.Count} reported ranges.");
            }
        }
    }
}
