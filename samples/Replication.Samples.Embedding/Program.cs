// Embedding Replication.Core directly: your product owns a block device (here a raw file), writes to it through a
// TrackedDisk so every write lands in an HRL log, and a ReplicationEngine protects it to a local-directory site, runs
// delta cycles, and recovers it in a test failover. The sample checks every recovered byte and exits 1 on a mismatch.
//
//   dotnet run --project samples/Replication.Samples.Embedding -- [WORK_DIRECTORY]
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

string work = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), $"replication-embedding-{Environment.ProcessId}"));
Directory.CreateDirectory(work);
const long Size = 32L << 20;

// 1. Your block device: a 32 MiB raw file (a VHDX works the same: DiskFormat.Vhdx).
string devicePath = Path.Combine(work, "device.img");
VirtualDisk.Create(devicePath, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = Size }).Dispose();

// 2. Open it through change tracking: every write is appended to an HRL log under device.img.logs and written to the disk.
var site = new LocalReplicationSite(Path.Combine(work, "site"));
var engine = new ReplicationEngine();
await using TrackedDisk device = TrackedDisk.Open(VirtualDisk.Open(devicePath), devicePath + ".logs");
ProtectedMachine Machine() => new(site, "app", [device]);
var random = new Random(42);

await WriteAsync(device, random, writes: 64);
ReplicationRunResult seed = await engine.ProtectAsync(new ProtectionRequest
{
    Machine = Machine(),
    CreateSite = true,
    Description = new MachineDescription { Name = "app", CpuCount = 2 },
});
Console.WriteLine($"protect      initial replication sent {seed.BytesSent >> 10} KiB, recovery point {seed.RecoveryPoint!.Id}");

// 3. Delta cycles: rotate the log, ship and apply it at the site, make a recovery point.
for (int cycle = 1; cycle <= 3; cycle++)
{
    await WriteAsync(device, random, writes: 16);
    ReplicationRunResult run = await engine.ReplicateAsync(Machine());
    Console.WriteLine($"cycle {cycle}      {run.LoggedBytes >> 10} KiB logged, {run.BytesSent >> 10} KiB sent, recovery point {run.RecoveryPoint!.Id}");
}

// 4. A test failover: the newest point recovered into new disk files beside the site, replication untouched.
await device.FlushAsync();
var output = new DiskFileOutput(Path.Combine(work, "test-failover"));
FailoverResult test = await engine.FailoverAsync(new FailoverRequest { Site = site, Name = "app", Kind = FailoverKind.Test, Output = output });
bool equal;
using (VirtualDisk recovered = VirtualDisk.Open(test.Machine.Disks[0], DiskOpenOptions.ReadOnlyAccess))
{
    equal = SameBytes(device, recovered, out long firstDifference);
    Console.WriteLine(equal
        ? $"test failover point {test.Machine.Point.Id} recovered to {test.Machine.Disks[0]}: {Size >> 20} MiB equal to the device, byte for byte"
        : $"test failover point {test.Machine.Point.Id}: the recovered disk differs from the device at offset {firstDifference}");
}

await engine.CleanupTestFailoverAsync(site, "app", output);
Console.WriteLine("cleanup      test failover removed; the item is still protected");
return equal ? 0 : 1;

static async Task WriteAsync(TrackedDisk disk, Random random, int writes)
{
    byte[] data = new byte[64 << 10];
    for (int i = 0; i < writes; i++)
    {
        random.NextBytes(data);
        await disk.WriteAsync(random.NextInt64(0, (disk.VirtualSize - data.Length) / 512) * 512, data);
    }

    await disk.FlushAsync();   // durable in the log and the disk
}

static bool SameBytes(IVirtualDisk a, IVirtualDisk b, out long firstDifference)
{
    firstDifference = -1;
    if (a.VirtualSize != b.VirtualSize)
    {
        firstDifference = Math.Min(a.VirtualSize, b.VirtualSize);
        return false;
    }

    byte[] left = new byte[1 << 20], right = new byte[1 << 20];
    for (long offset = 0; offset < a.VirtualSize; offset += left.Length)
    {
        int length = (int)Math.Min(left.Length, a.VirtualSize - offset);
        a.Read(offset, left.AsSpan(0, length));
        b.Read(offset, right.AsSpan(0, length));
        int mismatch = left.AsSpan(0, length).CommonPrefixLength(right.AsSpan(0, length));
        if (mismatch < length)
        {
            firstDifference = offset + mismatch;
            return false;
        }
    }

    return true;
}
