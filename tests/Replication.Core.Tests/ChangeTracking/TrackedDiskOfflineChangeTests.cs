using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.ChangeTracking;

/// <summary>
/// A disk written by another program while tracking was off is caught at the next open, whatever its format: the
/// tracker records the disk file's stamp when it closes it cleanly and compares it at open.
/// </summary>
public sealed class TrackedDiskOfflineChangeTests : IDisposable
{
    private const int Size = 4 << 20;
    private readonly TempDirectory _dir = new();

    [Theory]
    [MemberData(nameof(TrackedDiskKinds.Data), MemberType = typeof(TrackedDiskKinds))]
    public async Task A_disk_closed_and_reopened_untouched_needs_no_resync(string kind)
    {
        string path = TrackedDiskKinds.Create(_dir.Path, kind, DiskKinds.ScatteredContent(Size, 3));
        string logs = _dir.File("logs");
        await using (TrackedDisk disk = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackingTestSupport.Options()))
        {
            await disk.WriteAsync(8192, TrackingTestSupport.Random(1, 4096));
            await disk.FlushAsync();
        }

        await using TrackedDisk reopened = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackingTestSupport.Options());
        Assert.False(reopened.Resync.IsRequired, reopened.Resync.ToString());
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("vhd-fixed")]
    [InlineData("vhd-dynamic")]
    public async Task A_disk_written_by_another_program_while_tracking_was_off_asks_for_a_whole_disk_resync(string kind)
    {
        string path = TrackedDiskKinds.Create(_dir.Path, kind, DiskKinds.ScatteredContent(Size, 4));
        string logs = _dir.File("logs");
        await using (TrackedDisk disk = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackingTestSupport.Options()))
        {
            await disk.WriteAsync(0, TrackingTestSupport.Random(2, 4096));
        }

        // Another program writes the disk (its own VHD code, not a tracker), and even sets the file's time back.
        DateTime mtime = File.GetLastWriteTimeUtc(path);
        using (VirtualDisk other = VirtualDisk.Open(path))
        {
            other.Write(1 << 20, TrackingTestSupport.Random(3, 512));
            other.Flush();
        }

        File.SetLastWriteTimeUtc(path, mtime);
        await using TrackedDisk reopened = TrackedDisk.Open(TrackedDiskKinds.Open(path, kind), logs, TrackingTestSupport.Options());
        Assert.True(reopened.Resync.Reasons.HasFlag(ResyncReasons.DiskChangedOffline), reopened.Resync.ToString());
        Assert.True(reopened.Resync.WholeDisk);
    }

    public void Dispose() => _dir.Dispose();
}
