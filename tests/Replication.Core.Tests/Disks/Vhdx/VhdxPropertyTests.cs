using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>
/// Random sequences of writes (any offset and length, sector-aligned or not) against a byte[] model: the disk reads
/// equal to the model before and after it is reopened, and its extents cover every non-zero byte.
/// </summary>
public sealed class VhdxPropertyTests
{
    private const int MiB = VhdxTestSupport.MiB;
    private const long Size = 4 * MiB;
    private const int MaxOperations = 30;

    [Property(MaxTest = 20, Arbitrary = [typeof(WriteOperations)])]
    public void Fixed_512(WriteOperation[] operations) => Check(DiskType.Fixed, 512, operations);

    [Property(MaxTest = 20, Arbitrary = [typeof(WriteOperations)])]
    public void Fixed_4096(WriteOperation[] operations) => Check(DiskType.Fixed, 4096, operations);

    [Property(MaxTest = 25, Arbitrary = [typeof(WriteOperations)])]
    public void Dynamic_512(WriteOperation[] operations) => Check(DiskType.Dynamic, 512, operations);

    [Property(MaxTest = 25, Arbitrary = [typeof(WriteOperations)])]
    public void Dynamic_4096(WriteOperation[] operations) => Check(DiskType.Dynamic, 4096, operations);

    [Property(MaxTest = 25, Arbitrary = [typeof(WriteOperations)])]
    public void Differencing_512(WriteOperation[] operations) => Check(DiskType.Differencing, 512, operations);

    [Property(MaxTest = 25, Arbitrary = [typeof(WriteOperations)])]
    public void Differencing_4096(WriteOperation[] operations) => Check(DiskType.Differencing, 4096, operations);

    private static void Check(DiskType type, int sectorSize, WriteOperation[] operations)
    {
        using var dir = new TempDirectory();
        string path = dir.File("p.vhdx");
        byte[] model = new byte[Size];
        string? parent = null;
        if (type == DiskType.Differencing)
        {
            parent = dir.File("parent.vhdx");
            using VirtualDisk p = VhdxTestSupport.Create(parent, DiskType.Dynamic, Size, MiB, sectorSize);
            VhdxTestSupport.RandomWrites(p, model, new Random(sectorSize), 6, 400_000);
        }

        using (VirtualDisk disk = VhdxTestSupport.Create(path, type, type == DiskType.Differencing ? 0 : Size, MiB, sectorSize, parent))
        {
            int index = 0;
            foreach (WriteOperation operation in (operations ?? []).Take(MaxOperations))
            {
                if (operation is null)
                {
                    continue;
                }

                (long offset, byte[] data) = operation.Materialise(index++, sectorSize);
                disk.Write(offset, data);
                data.CopyTo(model, offset);
            }

            DiskAssert.ContentEquals(model, disk);
        }

        using (VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess))
        {
            DiskAssert.ContentEquals(model, reopened);
            VhdxDifferencingTests.AssertExtentsCoverData(reopened, model);
        }
    }

    /// <summary>Writes anywhere on the disk: mostly small, some spanning blocks; half of them rounded out to whole sectors.</summary>
    public static class WriteOperations
    {
        public static Arbitrary<WriteOperation> Operation() =>
            Gen.Choose(0, (int)Size - 1)
                .SelectMany(
                    _ => Gen.Frequency((6, Gen.Choose(1, 4096)), (3, Gen.Choose(1, 100_000)), (1, Gen.Choose(1, 2 * MiB))),
                    (offset, length) => (offset, length))
                .SelectMany(_ => ArbMap.Default.GeneratorFor<bool>(), (pair, aligned) => new WriteOperation(pair.offset, pair.length, aligned))
                .ToArbitrary();
    }

    /// <summary>A generated write inside the disk, aligned to sectors or not.</summary>
    public sealed record WriteOperation(int Offset, int Length, bool SectorAligned)
    {
        public (long Offset, byte[] Data) Materialise(int index, int sectorSize)
        {
            long offset = Offset;
            long end = Math.Min(Size, (long)Offset + Math.Max(1, Length));
            if (SectorAligned)
            {
                offset = offset / sectorSize * sectorSize;
                end = Math.Min(Size, (end + sectorSize - 1) / sectorSize * sectorSize);
            }

            int length = (int)(end - offset);
            byte[] data = new byte[length];
            new Random(HashCode.Combine(index, Offset, Length)).NextBytes(data);
            return (offset, data);
        }
    }
}
