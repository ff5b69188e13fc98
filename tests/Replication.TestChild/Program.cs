using System.Globalization;
using Replication.Core.Disks;
using Replication.TestChild;

if (args.Length == 8 && args[0] == "tracked-writes") { return await TrackedWrites.RunAsync(args); }

// disk-writes <path> <seed> <count> <maxLength>: performs the workload's writes in order, flushing after each,
// and prints "ack N" once write N is durable. The parent kills this process at a random point.
if (args.Length == 5 && args[0] == "disk-writes")
{
    string path = args[1];
    int seed = int.Parse(args[2], CultureInfo.InvariantCulture);
    int count = int.Parse(args[3], CultureInfo.InvariantCulture);
    int maxLength = int.Parse(args[4], CultureInfo.InvariantCulture);
    using VirtualDisk disk = VirtualDisk.Open(path);
    Console.Out.Flush();
    for (int i = 0; i < count; i++)
    {
        (long offset, byte[] data) = CrashWorkload.Write(seed, i, disk.VirtualSize, maxLength);
        disk.Write(offset, data);
        disk.Flush();
        Console.WriteLine($"ack {i}");
        Console.Out.Flush();
    }

    Console.WriteLine("done");
    return 0;
}

if (args.Length == 7 && args[0] == "seed") { return await SeedWorkload.RunAsync(args); }

if (args.Length >= 8 && args[0] == "engine") { return await EngineWorkload.RunAsync(args); }

if (args.Length >= 8 && args[0] == "failover") { return await FailoverWorkload.RunAsync(args); }

if (args.Length == 6 && args[0] == "disk-sync")
{
    return SyncWorkload.Run(args);
}

Console.Error.WriteLine("usage: disk-writes <path> <seed> <count> <maxLength>");
return 2;
