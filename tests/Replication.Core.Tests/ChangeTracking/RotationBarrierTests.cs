using System.Buffers.Binary;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// A machine's disks rotate at one instant: the sealed logs of all its disks end at a cut consistent across them, so
/// that a recovery point never holds a write on one disk while missing a write on another that came before it.
/// </summary>
public sealed class RotationBarrierTests : IDisposable
{
    private const long Size = 4 << 20;
    private const int Slots = 256;
    private const int WritesPerWriter = 4000;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Writes_that_depend_on_each_other_across_disks_are_never_cut_apart()
    {
        // Writers each write their counter to disk A, then (once that returned) to B, then to C: a cut that holds write
        // k on C must hold it on B and A too. Rotations land at arbitrary moments while the writers run.
        TrackedDisk[] disks = [Open("a"), Open("b"), Open("c")];
        var cuts = new CutCounter();
        Task[] writers = [.. Enumerable.Range(0, 3).Select(w => Task.Run(() => WriteChainsAsync(disks, w, cuts)))];
        try
        {
            long[][] highest = [new long[3], new long[3], new long[3]];
            int rounds = 0;
            for (bool last = false; !last; rounds++)
            {
                last = writers.All(w => w.IsCompleted);
                IReadOnlyList<SealedLog> cut = await TrackedDisk.RotateTogetherAsync(rounds % 2 == 0 ? disks : [.. disks.Reverse()]);
                cuts.Add();
                Assert.Equal(disks.Length, cut.Count);
                for (int i = 0; i < disks.Length; i++)
                {
                    Raise(highest[i], (rounds % 2 == 0 ? cut[i] : cut[disks.Length - 1 - i]).Path);
                }

                // Per writer: the highest counter each disk's sealed prefix holds must not grow along the chain A → B → C.
                for (int w = 0; w < 3; w++)
                {
                    Assert.True(
                        highest[0][w] >= highest[1][w] && highest[1][w] >= highest[2][w],
                        $"round {rounds}, writer {w}: A holds {highest[0][w]}, B {highest[1][w]}, C {highest[2][w]}");
                }
            }

            await Task.WhenAll(writers);
            Assert.All(highest, disk => Assert.All(disk, h => Assert.Equal(WritesPerWriter, h)));
        }
        finally
        {
            // The writers stop by themselves after a bounded number of writes; closing the disks ends any still running.
            await Task.WhenAll(writers.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));
            foreach (TrackedDisk disk in disks)
            {
                await disk.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_disk_given_twice_or_no_disk_is_refused()
    {
        await using TrackedDisk disk = Open("a");
        await Assert.ThrowsAsync<ArgumentException>(() => TrackedDisk.RotateTogetherAsync([disk, disk]));
        await Assert.ThrowsAsync<ArgumentException>(() => TrackedDisk.RotateTogetherAsync([]));
    }

    public void Dispose() => _dir.Dispose();

    private TrackedDisk Open(string name)
    {
        string path = _dir.File(name + ".raw");
        using (VirtualDisk created = VirtualDisk.Create(path, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }))
        {
        }

        return TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs", TrackingTestSupport.Options());
    }

    private static async Task WriteChainsAsync(TrackedDisk[] disks, int writer, CutCounter cuts)
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

            // Every thousand writes, wait for one more cut: cuts then land inside every writer's run, however the
            // threads are scheduled.
            if (counter % 1000 == 0)
            {
                await cuts.WaitForAsync((int)(counter / 1000));
            }
        }
    }

    /// <summary>How many cuts have been made, and a way to wait for the n-th.</summary>
    private sealed class CutCounter
    {
        private readonly Lock _lock = new();
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
        private int _count;

        public void Add()
        {
            List<TaskCompletionSource> ready = [];
            lock (_lock)
            {
                _count++;
                ready.AddRange(_waiters.Where(w => w.Count <= _count).Select(w => w.Done));
                _waiters.RemoveAll(w => w.Count <= _count);
            }

            ready.ForEach(d => d.SetResult());
        }

        public Task WaitForAsync(int count)
        {
            lock (_lock)
            {
                if (_count >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task;
            }
        }
    }

    /// <summary>Raises each writer's highest counter by what one more sealed log holds.</summary>
    private static void Raise(long[] highest, string log)
    {
        foreach ((long _, byte[] data) in TrackingTestSupport.Records([log]))
        {
            for (int at = 0; at + 512 <= data.Length; at += 512)
            {
                long counter = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at));
                int writer = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at + 8));
                if (counter > 0 && writer is >= 0 and < 3)
                {
                    highest[writer] = Math.Max(highest[writer], counter);
                }
            }
        }
    }
}
