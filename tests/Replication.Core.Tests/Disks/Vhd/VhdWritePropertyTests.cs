using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.Disks.Vhd.VhdTestSupport;

namespace Replication.Core.Tests.Disks.Vhd;

/// <summary>One write of a script: <see cref="Seed"/> 0 writes zeros, anything else seeded random bytes.</summary>
public readonly record struct VhdWrite(long Offset, int Length, int Seed)
{
    public byte[] Data()
    {
        byte[] data = new byte[Length];
        if (Seed != 0)
        {
            new Random(Seed).NextBytes(data);
        }

        return data;
    }
}

/// <summary>A sequence of writes against a disk of <see cref="VhdWritePropertyTests.Size"/> bytes.</summary>
public sealed record VhdWriteScript(VhdWrite[] Writes)
{
    public override string ToString() => string.Join(", ", Writes.Select(w => $"({w.Offset},{w.Length},{w.Seed})"));
}

/// <summary>Generates write scripts: any offset and length, with a bias to sector and block edges and small writes.</summary>
public static class VhdWriteScripts
{
    public static Arbitrary<VhdWriteScript> Scripts()
    {
        const long size = VhdWritePropertyTests.Size;
        const int block = VhdWritePropertyTests.BlockSize;
        Gen<long> anyOffset = Gen.Choose(0, (int)size - 1).Select(o => (long)o);
        Gen<long> edgeOffset =
            from b in Gen.Choose(0, (int)(size / block))
            from delta in Gen.Choose(-700, 700)
            select Math.Clamp(((long)b * block) + delta, 0, size - 1);
        Gen<long> sectorOffset = Gen.Choose(0, (int)(size / 512) - 1).Select(s => s * 512L);
        Gen<long> offset = Gen.Frequency((3, anyOffset), (3, edgeOffset), (2, sectorOffset));
        Gen<int> length = Gen.Frequency(
            (4, Gen.Choose(1, 600)),
            (3, Gen.Choose(1, 3 * block)),
            (2, Gen.Choose(1, 16).Select(n => n * 512)));
        Gen<int> seed = Gen.Frequency((1, Gen.Constant(0)), (5, Gen.Choose(1, int.MaxValue)));
        Gen<VhdWrite> write =
            from o in offset
            from l in length
            from s in seed
            select new VhdWrite(o, (int)Math.Min(l, size - o), s);
        Gen<VhdWriteScript> script = Gen.Choose(1, 25).SelectMany(n => Gen.ArrayOf(write, n)).Select(w => new VhdWriteScript(w));
        return Arb.From(script, Shrink);
    }

    private static IEnumerable<VhdWriteScript> Shrink(VhdWriteScript script)
    {
        for (int i = 0; i < script.Writes.Length && script.Writes.Length > 1; i++)
        {
            yield return new VhdWriteScript([.. script.Writes[..i], .. script.Writes[(i + 1)..]]);
        }
    }
}

/// <summary>Random write sequences on fixed, dynamic and differencing disks read back like a flat byte model, before and after reopening.</summary>
public sealed class VhdWritePropertyTests
{
    public const long Size = (1 * VhdTestSupport.MiB) + (3 * 512);
    public const int BlockSize = 64 * VhdTestSupport.KiB;

    [Property(MaxTest = 40, Arbitrary = [typeof(VhdWriteScripts)])]
    public void Fixed(VhdWriteScript script) => Run(DiskType.Fixed, script);

    [Property(MaxTest = 40, Arbitrary = [typeof(VhdWriteScripts)])]
    public void Dynamic(VhdWriteScript script) => Run(DiskType.Dynamic, script);

    [Property(MaxTest = 40, Arbitrary = [typeof(VhdWriteScripts)])]
    public void Differencing(VhdWriteScript script) => Run(DiskType.Differencing, script);

    private static void Run(DiskType type, VhdWriteScript script)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk.vhd");
        byte[] model = new byte[Size];
        string? parent = null;
        if (type == DiskType.Differencing)
        {
            // A parent with data in some blocks and not others, so merges meet both parent data and zeros.
            parent = dir.File("parent.vhd");
            using VirtualDisk p = VirtualDisk.Create(parent, Options(DiskType.Dynamic, Size, BlockSize));
            RandomWrites(p, model, new Random(script.Writes.Length), 6, 100_000);
        }

        using (VirtualDisk disk = VirtualDisk.Create(path, Options(type, type == DiskType.Differencing ? 0 : Size, type == DiskType.Fixed ? null : BlockSize, parent)))
        {
            foreach (VhdWrite write in script.Writes)
            {
                byte[] data = write.Data();
                disk.Write(write.Offset, data);
                data.CopyTo(model, write.Offset);
            }

            AssertReadsLike(model, disk);
        }

        using VirtualDisk reopened = VirtualDisk.Open(path, DiskOpenOptions.ReadOnlyAccess);
        Assert.Equal(type, reopened.DiskType);
        AssertReadsLike(model, reopened);
        VhdQemuInteropTests.AssertExtentsCoverData(model, reopened);
    }

    /// <summary>Whole-disk read, then reads in odd-sized pieces that start and end inside sectors.</summary>
    private static void AssertReadsLike(byte[] model, IVirtualDisk disk)
    {
        DiskAssert.ContentEquals(model, disk);
        byte[] piece = new byte[7777];
        for (long offset = 333; offset < model.Length; offset += piece.Length + 1001)
        {
            int n = (int)Math.Min(piece.Length, model.Length - offset);
            disk.Read(offset, piece.AsSpan(0, n));
            Assert.True(piece.AsSpan(0, n).SequenceEqual(model.AsSpan((int)offset, n)), $"read of {n} bytes at {offset} differs");
        }
    }
}
