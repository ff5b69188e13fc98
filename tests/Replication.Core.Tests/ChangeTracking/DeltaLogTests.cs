using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;

namespace Replication.Core.Tests.ChangeTracking;

public sealed class DeltaLogTests : IDisposable
{
    private const int Size = 3 << 20;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(TrackedDiskKinds.Data), MemberType = typeof(TrackedDiskKinds))]
    public async Task The_delta_between_two_disks_of_any_kind_takes_the_old_one_to_the_new_one(string kind)
    {
        byte[] before = DiskKinds.ScatteredContent(Size, 8);
        string oldPath = TrackedDiskKinds.Create(_temp.Path, kind, before);
        string newPath = TrackedDiskKinds.Copy(oldPath, kind, "new");
        string target = TrackedDiskKinds.Copy(oldPath, kind, "target");
        byte[] after = (byte[])before.Clone();
        using (IVirtualDisk changed = TrackedDiskKinds.Open(newPath, kind))
        {
            var random = new Random(9);
            for (int i = 0; i < 20; i++)
            {
                int length = random.Next(1, 50_000);
                int offset = random.Next(0, Size - length);
                byte[] data = Random(i, length);
                changed.Write(offset, data);
                data.CopyTo(after, offset);
            }
        }

        DeltaLogResult result;
        using (IVirtualDisk a = TrackedDiskKinds.Open(oldPath, kind, readOnly: true))
        using (IVirtualDisk b = TrackedDiskKinds.Open(newPath, kind, readOnly: true))
        {
            result = await new DeltaLog().CreateAsync(a, b, _temp.File("delta.hrl"));
        }

        int differing = Enumerable.Range(0, Size / 512).Count(s => !before.AsSpan(s * 512, 512).SequenceEqual(after.AsSpan(s * 512, 512)));
        Assert.Equal(differing * 512L, result.DataBytes);
        Assert.Equal(result.Hash, HrlIntegrity.VerifySidecar(result.Path).Hash);
        using IVirtualDisk replica = TrackedDiskKinds.Open(target, kind);
        await new LogApplier().ApplyAsync([result.Path], replica);
        Assert.Equal(after, ReadAll(replica));
    }

    [Fact]
    public async Task Equal_disks_give_an_empty_sealed_log_and_bad_arguments_leave_nothing_behind()
    {
        string a = _temp.File("a.img");
        string b = _temp.File("b.img");
        File.WriteAllBytes(a, DiskKinds.ScatteredContent(Size, 1));
        File.Copy(a, b);
        using VirtualDisk da = VirtualDisk.Open(a, DiskOpenOptions.ReadOnlyAccess);
        using VirtualDisk db = VirtualDisk.Open(b, DiskOpenOptions.ReadOnlyAccess);
        Guid previous = Guid.NewGuid();
        DeltaLogResult empty = await new DeltaLog().CreateAsync(da, db, _temp.File("empty.hrl"), previous);
        Assert.Equal(0, empty.RecordCount);
        using (HrlReader reader = HrlReader.Open(empty.Path))
        {
            Assert.Equal(previous, reader.Header.PreviousUniqueId);
            Assert.Empty(reader.ReadRecords());
        }

        await Assert.ThrowsAnyAsync<IOException>(() => new DeltaLog().CreateAsync(da, db, empty.Path));
        string small = _temp.File("small.img");
        File.WriteAllBytes(small, new byte[Size / 3]);
        using VirtualDisk ds = VirtualDisk.Open(small, DiskOpenOptions.ReadOnlyAccess);
        await Assert.ThrowsAsync<ArgumentException>(() => new DeltaLog().CreateAsync(da, ds, _temp.File("x.hrl")));
        Assert.False(File.Exists(_temp.File("x.hrl")));
        Assert.False(File.Exists(_temp.File("x.hrl") + HrlFormat.PartialSuffix));
    }
}
