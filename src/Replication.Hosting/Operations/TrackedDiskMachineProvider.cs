using Replication.Core;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;

namespace Replication.Hosting.Operations;

/// <summary>
/// Opens an item's disks through change tracking for one run (each tracked in <c>DISK.logs</c> beside it, as
/// <c>repl protect</c> and <c>repl nbd serve</c> track it) and closes them cleanly after, with the item's resync
/// threshold. One tracker per disk across processes: a disk another process tracks now fails the run with a
/// recoverable error, retried on the documented schedule.
/// </summary>
public sealed class TrackedDiskMachineProvider : IMachineProvider
{
    /// <summary>The tracking folder of the disk at <paramref name="diskPath"/>: <c>DISK.logs</c> beside it.</summary>
    internal static string LogDirectory(string diskPath) => diskPath + ".logs";

    /// <inheritdoc />
    public ValueTask<MachineLease> AcquireAsync(IReplicationSite site, HostedItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(item);
        var options = new TrackedDiskOptions { ResyncThreshold = item.Policy.ResyncThreshold };
        var disks = new List<TrackedDisk>();
        try
        {
            foreach (string path in item.Disks)
            {
                if (!File.Exists(path))
                {
                    throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{path}: disk {disks.Count} of '{item.Name}' does not exist.");
                }

                VirtualDisk disk = VirtualDisk.Open(path);
                try
                {
                    disks.Add(TrackedDisk.Open(disk, LogDirectory(path), options));
                }
                catch
                {
                    disk.Dispose();
                    throw;
                }
            }
        }
        catch (Exception ex)
        {
            foreach (TrackedDisk disk in disks)
            {
                disk.Dispose();
            }

            throw ReplicationErrors.Classify(ex, $"opening the disks of '{item.Name}'");
        }

        var machine = new ProtectedMachine(site, item.Name, disks);
        return ValueTask.FromResult(new MachineLease(machine, async () =>
        {
            foreach (TrackedDisk disk in disks)
            {
                await disk.DisposeAsync().ConfigureAwait(false);
            }
        }));
    }
}
