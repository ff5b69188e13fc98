using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>Zeroing a range of a tracked disk (<see cref="IDiskSink.ZeroAsync"/>): the disk reads zeros and a replica that applies the logs gets them too.</summary>
public sealed class TrackedDiskZeroTests : IDisposable
{
    private const int Size = 4 << 20;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Zeroed_ranges_read_as_zeros_and_are_logged_as_data_in_chunks_of_at_most_one_MiB()
    {
        byte[] start = DiskKinds.ScatteredContent(Size, 7);
        string path = TrackedDiskKinds.Create(_temp.Path, "raw", start);
        string replica = TrackedDiskKinds.Copy(path, "raw", "replica");
        byte[] model = (byte[])start.Clone();
        await using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), _temp.File("logs"), Options(), timeProvider: new ManualTimeProvider(HrlTestLogs.Start)))
        {
            IDiskSink zeroing = disk;
            await zeroing.ZeroAsync(4096, (2 << 20) + 512);
            await zeroing.ZeroAsync(Size - 1000, 1000);
            await zeroing.ZeroAsync(0, 0);
            model.AsSpan(4096, (2 << 20) + 512).Clear();
            model.AsSpan(Size - 1000, 1000).Clear();
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await zeroing.ZeroAsync(Size - 512, 1024));
            Assert.Equal(model, ReadAll(disk));

            SealedLog log = await disk.RotateAsync();
            List<(long Offset, byte[] Data)> records = Records([log.Path]);
            Assert.Equal([4096L, 4096L + (1 << 20), 4096L + (2 << 20), Size - 1024], records.Select(r => r.Offset));
            Assert.All(records, r => Assert.True(r.Data.Length <= 1 << 20));
            Assert.All(records.Take(3), r => Assert.False(r.Data.AsSpan().ContainsAnyExcept((byte)0)));
            Assert.False(records[3].Data.AsSpan(24).ContainsAnyExcept((byte)0));

            using VirtualDisk target = VirtualDisk.Open(replica);
            await new LogApplier().ApplyAsync([log.Path], target, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty });
            Assert.Equal(model, ReadAll(target));
        }
    }
}
