using Replication.Core.Disks;

namespace Replication.Benchmarks.Disks;

/// <summary>One disk of each format and type, filled with the same data, in a temp folder.</summary>
internal sealed class DiskFixture : IDisposable
{
    public static readonly string[] Kinds = ["raw", "vhd-fixed", "vhd-dynamic", "vhdx-fixed", "vhdx-dynamic"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-bench-" + Guid.NewGuid().ToString("N"));

    public DiskFixture(long size, bool fill)
    {
        Directory.CreateDirectory(_dir);
        Size = size;
        byte[] chunk = new byte[1 << 20];
        new Random(1).NextBytes(chunk);
        foreach (string kind in Kinds)
        {
            using VirtualDisk disk = VirtualDisk.Create(PathOf(kind), Options(kind, size));
            if (fill)
            {
                for (long offset = 0; offset < size; offset += chunk.Length)
                {
                    disk.Write(offset, chunk);
                }
            }

            disk.Flush();
        }
    }

    public long Size { get; }

    public string PathOf(string kind) => Path.Combine(_dir, kind);

    public static DiskCreateOptions Options(string kind, long size) => kind switch
    {
        "raw" => new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = size },
        "vhd-fixed" => new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Fixed, VirtualSize = size },
        "vhd-dynamic" => new DiskCreateOptions { Format = DiskFormat.Vhd, Type = DiskType.Dynamic, VirtualSize = size },
        "vhdx-fixed" => new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Fixed, VirtualSize = size },
        _ => new DiskCreateOptions { Format = DiskFormat.Vhdx, Type = DiskType.Dynamic, VirtualSize = size },
    };

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
