using FsCheck;
using FsCheck.Xunit;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks;

/// <summary>
/// Random write sequences (any offset, any length, aligned or not) against a byte-array model, for every format and
/// type: the disk reads equal to the model, and so does the file re-opened afterwards.
/// </summary>
public sealed class DiskModelProperties
{
    private const long Size = 3L << 20;

    [Property(MaxTest = 15)]
    public bool Raw_fixed_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Raw, DiskType.Fixed, writes);

    [Property(MaxTest = 15)]
    public bool Vhd_fixed_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhd, DiskType.Fixed, writes);

    [Property(MaxTest = 15)]
    public bool Vhd_dynamic_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhd, DiskType.Dynamic, writes);

    [Property(MaxTest = 15)]
    public bool Vhd_differencing_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhd, DiskType.Differencing, writes);

    [Property(MaxTest = 15)]
    public bool Vhdx_fixed_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhdx, DiskType.Fixed, writes);

    [Property(MaxTest = 15)]
    public bool Vhdx_dynamic_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhdx, DiskType.Dynamic, writes);

    [Property(MaxTest = 15)]
    public bool Vhdx_differencing_matches_the_model((NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes) =>
        MatchesModel(DiskFormat.Vhdx, DiskType.Differencing, writes);

    private static bool MatchesModel(DiskFormat format, DiskType type, (NonNegativeInt Offset, PositiveInt Length, byte Fill, bool Aligned)[] writes)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk" + DiskKinds.Extension(format));
        byte[] model = new byte[Size];
        if (type == DiskType.Differencing)
        {
            string parentPath = dir.File("parent" + DiskKinds.Extension(format));
            using (VirtualDisk parent = DiskKinds.Create(parentPath, format, DiskType.Dynamic, Size))
            {
                new Random(writes.Length).NextBytes(model.AsSpan(100_000, 700_000));
                parent.Write(0, model);
            }

            VirtualDisk.Create(path, new DiskCreateOptions { Format = format, Type = type, ParentPath = parentPath, BlockSize = DiskKinds.SmallBlockSize(format) }).Dispose();
        }
        else
        {
            DiskKinds.Create(path, format, type, Size).Dispose();
        }

        using (VirtualDisk disk = VirtualDisk.Open(path))
        {
            int sequence = 0;
            foreach ((NonNegativeInt offset, PositiveInt length, byte fill, bool aligned) in writes)
            {
                long start = offset.Get * 977L % Size;
                long count = Math.Min(length.Get * 131L % 200_000 + 1, Size - start);
                if (aligned)
                {
                    start = start / 512 * 512;
                    count = Math.Max(512, count / 512 * 512);
                    count = Math.Min(count, Size - start);
                }

                byte[] data = new byte[count];
                new Random(fill + sequence++).NextBytes(data);
                disk.Write(start, data);
                data.CopyTo(model, start);
            }

            DiskAssert.ContentEquals(model, disk);
        }

        using (VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        {
            DiskAssert.ContentEquals(model, reopened);
        }

        return true;
    }
}
