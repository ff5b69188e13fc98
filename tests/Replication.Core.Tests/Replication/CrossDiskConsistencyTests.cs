using System.Buffers.Binary;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Tests.ChangeTracking;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// A machine of three disks written concurrently yields recovery points consistent across its disks: writers write
/// each counter to disk A, then (once that returned) to B, then to C, while cycles run; in every point, no disk holds a
/// later counter of a writer than the disk before it.
/// </summary>
public sealed class CrossDiskConsistencyTests : IDisposable
{
    private const long Size = 4 << 20;
    private const int Writers = 3;
    private const int Slots = 256;
    private const int WritesPerWriter = 3000;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Points_of_a_machine_written_concurrently_never_hold_a_later_write_on_one_disk_than_on_the_one_before()
    {
        string[] paths = [.. Enumerable.Range(0, 3).Select(i => _dir.File($"disk{i}.raw"))];
        foreach (string path in paths)
        {
            File.WriteAllBytes(path, new byte[Size]);
        }

        TrackedDisk[] disks = [.. paths.Select(p => TrackedDisk.Open(VirtualDisk.Open(p), p + ".logs", TrackingTestSupport.Options()))];
        var site = new LocalReplicationSite(_dir.File("site"));
        var engine = new ReplicationEngine();
        var machine = new ProtectedMachine(site, "three", disks);
        try
        {
            await engine.ProtectAsync(new ProtectionRequest { Machine = machine, CreateSite = true, Policy = new ReplicationPolicy { RetentionCount = 100 } });
            var cycles = new AsyncCounter();
            Task[] writers = [.. Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteChainsAsync(disks, w, cycles)))];
            while (!writers.All(w => w.IsCompleted))
            {
                await engine.ReplicateAsync(machine);
                cycles.Add();
            }

            await Task.WhenAll(writers);
            await engine.ReplicateAsync(machine);

            IReadOnlyList<RecoveryPointInfo> points = await engine.ListRecoveryPointsAsync(site, "three");
            Assert.True(points.Count > 3, $"only {points.Count} points were made while the writers ran");
            long[][] last = [];
            foreach (RecoveryPointInfo point in points)
            {
                IReadOnlyList<IVirtualDisk> opened = await engine.OpenRecoveryPointAsync(site, "three", point.Id);
                try
                {
                    last = [.. opened.Select(Highest)];
                }
                finally
                {
                    foreach (IVirtualDisk disk in opened)
                    {
                        disk.Dispose();
                    }
                }

                for (int w = 0; w < Writers; w++)
                {
                    Assert.True(
                        last[0][w] >= last[1][w] && last[1][w] >= last[2][w],
                        $"point {point.Id}, writer {w}: A holds {last[0][w]}, B {last[1][w]}, C {last[2][w]}");
                }
            }

            // The last point holds every write.
            Assert.All(last, disk => Assert.All(disk, h => Assert.Equal(WritesPerWriter, h)));
        }
        finally
        {
            foreach (TrackedDisk disk in disks)
            {
                await disk.DisposeAsync();
            }
        }
    }

    public void Dispose() => _dir.Dispose();

    private static async Task WriteChainsAsync(TrackedDisk[] disks, int writer, AsyncCounter cycles)
    {
        byte[] sector = new byte[512];
        for (long counter = 1; counter <= WritesPerWriter; counter++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(sector, counter);
            BinaryPrimitives.WriteInt32LittleEndian(sector.AsSpan(8), writer);
            long offset = ((writer * Slots) + (counter % Slots)) * 4096L;
            foreach (TrackedDisk disk in disks)
            {
                await disk.WriteAsync(offset, sector);
            }

            // Every thousand writes, wait for one more cycle, so that cuts land inside every writer's run.
            if (counter % 1000 == 0)
            {
                await cycles.WaitForAsync((int)(counter / 1000));
            }
        }
    }

    /// <summary>Each writer's highest counter on a disk.</summary>
    private static long[] Highest(IVirtualDisk disk)
    {
        long[] highest = new long[Writers];
        byte[] page = new byte[512];
        for (int w = 0; w < Writers; w++)
        {
            for (int slot = 0; slot < Slots; slot++)
            {
                disk.Read(((w * Slots) + slot) * 4096L, page);
                long counter = BinaryPrimitives.ReadInt64LittleEndian(page);
                if (BinaryPrimitives.ReadInt32LittleEndian(page.AsSpan(8)) == w)
                {
                    highest[w] = Math.Max(highest[w], counter);
                }
            }
        }

        return highest;
    }
}
