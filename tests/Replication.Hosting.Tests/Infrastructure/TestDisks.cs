using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Operations;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// Raw disks with scattered content, opened through change tracking and kept open by the test, as an embedding product
/// keeps its machines' disks: it lends them to the host for each run and writes through them meanwhile.
/// </summary>
public sealed class TestDisks : IMachineProvider, IAsyncDisposable
{
    private readonly Dictionary<string, TrackedDisk[]> _machines = new(StringComparer.Ordinal);

    public static byte[] Content(long size, int seed)
    {
        byte[] bytes = new byte[size];
        var random = new Random(seed);
        for (long offset = 0; offset < size; offset += 64 * 1024)
        {
            if (random.Next(3) != 0)
            {
                random.NextBytes(bytes.AsSpan((int)offset, (int)Math.Min(16 * 1024, size - offset)));
            }
        }

        return bytes;
    }

    /// <summary>Creates and opens the disks of an item; returns their paths.</summary>
    public string[] Create(string folder, string item, int disks, long size, int seed)
    {
        string[] paths = [.. Enumerable.Range(0, disks).Select(i => Path.Combine(folder, $"{item}-{i}.raw"))];
        for (int i = 0; i < disks; i++)
        {
            File.WriteAllBytes(paths[i], Content(size, seed + i));
        }

        _machines[item] = [.. paths.Select(p => TrackedDisk.Open(VirtualDisk.Open(p), p + ".logs"))];
        return paths;
    }

    public TrackedDisk[] Disks(string item) => _machines[item];

    /// <summary>Writes random data through the item's tracked disks (what its guest would do), and flushes.</summary>
    public async Task WriteAsync(string item, int writes, int seed)
    {
        var random = new Random(seed);
        foreach (TrackedDisk disk in _machines[item])
        {
            await WriteRandomAsync(disk, random, writes);
        }
    }

    /// <summary>
    /// Writes random data to a disk file through change tracking (its logs beside it), as the guest of a machine whose disks
    /// the host opens for each run only, and flushes.
    /// </summary>
    public static async Task WriteTrackedAsync(string path, int seed, int writes = 20)
    {
        await using TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs");
        await WriteRandomAsync(disk, new Random(seed), writes);
    }

    private static async Task WriteRandomAsync(TrackedDisk disk, Random random, int writes)
    {
        for (int n = 0; n < writes; n++)
        {
            byte[] data = new byte[random.Next(1, 32) * 512];
            random.NextBytes(data);
            await disk.WriteAsync(random.NextInt64(0, (disk.VirtualSize - data.Length) / 512) * 512, data);
        }

        await disk.FlushAsync();
    }

    /// <summary>Every byte of a disk file (raw, VHD or VHDX) as a guest sees it, opened read-only.</summary>
    public static byte[] ReadWhole(string path)
    {
        using VirtualDisk disk = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        byte[] bytes = new byte[disk.VirtualSize];
        disk.Read(0, bytes);
        return bytes;
    }

    public byte[] Read(string item, int disk)
    {
        TrackedDisk tracked = _machines[item][disk];
        byte[] bytes = new byte[tracked.VirtualSize];
        tracked.Read(0, bytes);
        return bytes;
    }

    public ValueTask<MachineLease> AcquireAsync(IReplicationSite site, HostedItem item, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new MachineLease(new ProtectedMachine(site, item.Name, _machines[item.Name])));

    public async ValueTask DisposeAsync()
    {
        foreach (TrackedDisk disk in _machines.Values.SelectMany(d => d))
        {
            await disk.DisposeAsync();
        }
    }
}
