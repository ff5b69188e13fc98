using Replication.Core.Disks;
using Replication.Core.Disks.Vhdx;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>
/// Valid images that the bad-input tests damage: a dynamic disk with two blocks, a large dynamic disk (so its BAT has
/// a sector bitmap entry), a differencing child whose parent sits in <see cref="Directory"/>, and the dynamic disk
/// with a hand-made log entry that needs replay.
/// </summary>
public sealed class VhdxBadInputFixture : IDisposable
{
    public const int MiB = VhdxImagePatcher.MiB;

    /// <summary>The crafted log entry's zero descriptor clears this range of block 2.</summary>
    public const long ZeroedFileOffset = 4 * MiB;

    public VhdxBadInputFixture()
    {
        Directory = new TempDirectory();
        string dynamicPath = Directory.File("dynamic.vhdx");
        DynamicModel = new byte[8 * MiB];
        using (VhdxDisk disk = VhdxTestSupport.Create(dynamicPath, DiskType.Dynamic, DynamicModel.Length))
        {
            Write(disk, DynamicModel, (2 * MiB) + 100, 5000, 0x21);
            Write(disk, DynamicModel, 5 * MiB, 4096, 0x52);
        }

        Dynamic = File.ReadAllBytes(dynamicPath);

        string largePath = Directory.File("large.vhdx");
        using (VhdxDisk disk = VhdxTestSupport.Create(largePath, DiskType.Dynamic, 5L << 30))
        {
            disk.Write(4097L * MiB, new byte[] { 1 });
        }

        Large = File.ReadAllBytes(largePath);

        string parentPath = Directory.File("parent.vhdx");
        string childPath = Directory.File("child.vhdx");
        ChildModel = new byte[4 * MiB];
        using (VhdxDisk disk = VhdxTestSupport.Create(parentPath, DiskType.Dynamic, ChildModel.Length))
        {
            Write(disk, ChildModel, 0, 3 * MiB, 0x33);
        }

        using (VhdxDisk disk = VhdxTestSupport.Create(childPath, DiskType.Differencing, 0, MiB, parent: parentPath))
        {
            Write(disk, ChildModel, MiB + 513, 1000, 0x44);
        }

        Child = File.ReadAllBytes(childPath);

        (Dirty, DirtyModel, DirtyLogGuid) = CraftDirtyImage(Dynamic, DynamicModel, reseal: true, mutate: null);
    }

    public TempDirectory Directory { get; }

    public byte[] Dynamic { get; }

    public byte[] DynamicModel { get; }

    public byte[] Large { get; }

    public byte[] Child { get; }

    public byte[] ChildModel { get; }

    public byte[] Dirty { get; }

    public byte[] DirtyModel { get; }

    public Guid DirtyLogGuid { get; }

    /// <summary>Length of the crafted log entry.</summary>
    public static int DirtyEntryLength => (1 + 2) * 4096;

    /// <summary>
    /// Adds to a clean copy of the dynamic image a log entry (not applied) that: rewrites the first BAT sector so block
    /// 3 is present at 6 MiB, past the end of the file; zeroes the first 64 KiB of block 2; writes a 0x77 sector as the
    /// last sector of block 3, past the end of the file; and asks for the file to be at least 7 MiB. <paramref name="mutate"/> may damage
    /// the entry before its checksum is computed (if <paramref name="reseal"/>) or after.
    /// </summary>
    public static (byte[] Image, byte[] Model, Guid LogGuid) CraftDirtyImage(byte[] clean, byte[] cleanModel, bool reseal, Action<Span<byte>>? mutate)
    {
        var patcher = new VhdxImagePatcher(clean);
        var logGuid = Guid.NewGuid();
        const ulong Sequence = 0x1_0000_0005;
        byte[] batSector = patcher.At(VhdxImagePatcher.BatOffset, 4096).ToArray();
        VhdxBatEntry.Create(VhdxBatEntry.PayloadFullyPresent, 6 * MiB).WriteTo(batSector.AsSpan(3 * 8));
        byte[] pattern = new byte[4096];
        Array.Fill(pattern, (byte)0x77);

        byte[] entry = new byte[DirtyEntryLength];
        new VhdxLogEntryHeader
        {
            EntryLength = (uint)entry.Length,
            Tail = 0,
            SequenceNumber = Sequence,
            DescriptorCount = 3,
            LogGuid = logGuid,
            FlushedFileOffset = 6 * MiB,
            LastFileOffset = 7 * MiB,
        }.WriteTo(entry);
        VhdxLogDescriptor.ForData(batSector, VhdxImagePatcher.BatOffset, Sequence).WriteTo(entry.AsSpan(64));
        new VhdxLogDescriptor { Signature = VhdxLogDescriptor.ZeroSignature, LeadingBytes = 64 * 1024, FileOffset = ZeroedFileOffset, SequenceNumber = Sequence }
            .WriteTo(entry.AsSpan(96));
        VhdxLogDescriptor.ForData(pattern, (7 * MiB) - 4096, Sequence).WriteTo(entry.AsSpan(128));
        VhdxLogDataSector.WriteTo(entry.AsSpan(4096, 4096), batSector, Sequence);
        VhdxLogDataSector.WriteTo(entry.AsSpan(8192, 4096), pattern, Sequence);
        if (reseal)
        {
            mutate?.Invoke(entry);
            VhdxChecksum.Seal(entry, VhdxLogEntryHeader.ChecksumOffset);
        }
        else
        {
            VhdxChecksum.Seal(entry, VhdxLogEntryHeader.ChecksumOffset);
            mutate?.Invoke(entry);
        }

        entry.CopyTo(patcher.At(VhdxImagePatcher.LogOffset, entry.Length));
        patcher.Headers(h => h with { LogGuid = logGuid });

        byte[] model = (byte[])cleanModel.Clone();
        Array.Clear(model, 2 * MiB, 64 * 1024);
        Array.Fill(model, (byte)0x77, (4 * MiB) - 4096, 4096);
        return (patcher.Bytes, model, logGuid);
    }

    public void Dispose() => Directory.Dispose();

    private static void Write(VhdxDisk disk, byte[] model, long offset, int length, byte value)
    {
        byte[] data = new byte[length];
        Array.Fill(data, value);
        disk.Write(offset, data);
        data.CopyTo(model, offset);
    }
}
