using Replication.Core.ChangeTracking;
using Replication.Core.Disks;

namespace Replication.Cli;

/// <summary>The disks of an item opened through change tracking (<c>DISK.logs</c> beside each), closed cleanly on dispose.</summary>
internal sealed class TrackedDisks : IAsyncDisposable
{
    private TrackedDisks(List<TrackedDisk> disks) => Disks = disks;

    public List<TrackedDisk> Disks { get; }

    public static TrackedDisks Open(IReadOnlyList<string> paths)
    {
        var disks = new List<TrackedDisk>();
        try
        {
            foreach (string path in paths)
            {
                VirtualDisk disk = VirtualDisk.Open(path);
                try
                {
                    disks.Add(TrackedDisk.Open(disk, path + ".logs"));
                }
                catch
                {
                    disk.Dispose();
                    throw;
                }
            }
        }
        catch
        {
            foreach (TrackedDisk disk in disks)
            {
                disk.Dispose();
            }

            throw;
        }

        return new TrackedDisks(disks);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (TrackedDisk disk in Disks)
        {
            await disk.DisposeAsync().ConfigureAwait(false);
        }
    }
}
