// Replicating to Azure page blobs. Given an account URL, the site authenticates with DefaultAzureCredential (environment,
// workload or managed identity, Azure CLI, ...); given a connection string (AZURE_STORAGE_CONNECTION_STRING, or Azurite's
// in REPL_AZURITE_CONNECTION_STRING), with its shared key. The sample protects a tracked disk into a container, runs a
// delta cycle, checks the newest recovery point against the disk byte for byte, then removes the item from the container.
// It prints the account and container, never a key or a SAS signature. Exit 0 when the point equals the disk, 1 if not.
//
//   dotnet run --project samples/Replication.Samples.AzureSite -- --account-url https://ACCOUNT.blob.core.windows.net [--container NAME] [--work DIR]
//   AZURE_STORAGE_CONNECTION_STRING=... dotnet run --project samples/Replication.Samples.AzureSite -- [--container NAME]
using Azure.Identity;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

string? accountUrl = Option("--account-url");
string container = Option("--container") ?? $"sample-{Guid.NewGuid():N}"[..24];
string work = Path.GetFullPath(Option("--work") ?? Path.Combine(Path.GetTempPath(), $"replication-azure-{Environment.ProcessId}"));
Directory.CreateDirectory(work);

AzureReplicationSite site;
if (accountUrl is not null)
{
    // Entra ID: the identity needs the Storage Blob Data Contributor role on the container (or the account).
    site = new AzureReplicationSite(new Uri($"{accountUrl.TrimEnd('/')}/{container}"), new DefaultAzureCredential());
    Console.WriteLine($"site      {new Uri(accountUrl).Host}/{container} (DefaultAzureCredential)");
}
else
{
    string? connectionString = Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING") ?? Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING");
    if (string.IsNullOrWhiteSpace(connectionString))
    {
        Console.Error.WriteLine("Give --account-url, or set AZURE_STORAGE_CONNECTION_STRING (REPL_AZURITE_CONNECTION_STRING for Azurite).");
        return 2;
    }

    site = new AzureReplicationSite(connectionString, container);
    Console.WriteLine($"site      account {AccountName(connectionString)}, container {container} (connection string)");
}

string diskPath = Path.Combine(work, "vm.raw");
VirtualDisk.Create(diskPath, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 8L << 20 }).Dispose();
var engine = new ReplicationEngine();
var random = new Random(5);
bool equal;
await using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(diskPath), diskPath + ".logs"))
{
    await WriteAsync(disk, random);
    ReplicationRunResult seed = await engine.ProtectAsync(new ProtectionRequest
    {
        Machine = new ProtectedMachine(site, "vm", [disk]),
        CreateSite = true,       // creates the container when it does not exist
        Description = new MachineDescription { Name = "vm" },
    });
    Console.WriteLine($"protect   {seed.BytesSent >> 10} KiB sent to page blobs, recovery point {seed.RecoveryPoint!.Id}");

    await WriteAsync(disk, random);
    ReplicationRunResult cycle = await engine.ReplicateAsync(new ProtectedMachine(site, "vm", [disk]));
    Console.WriteLine($"cycle     {cycle.LoggedBytes >> 10} KiB logged, {cycle.BytesSent >> 10} KiB sent, recovery point {cycle.RecoveryPoint!.Id}");

    IReadOnlyList<IVirtualDisk> point = await engine.OpenRecoveryPointAsync(site, "vm", cycle.RecoveryPoint.Id);
    try
    {
        byte[] expected = new byte[disk.VirtualSize], actual = new byte[disk.VirtualSize];
        disk.Read(0, expected);
        point[0].Read(0, actual);
        equal = expected.AsSpan().SequenceEqual(actual);
        Console.WriteLine(equal ? $"check     recovery point {cycle.RecoveryPoint.Id} in Azure equals the disk byte for byte" : "FAILED: the recovery point differs from the disk");
    }
    finally
    {
        foreach (IVirtualDisk d in point)
        {
            d.Dispose();
        }
    }

    await engine.UnprotectAsync(site, "vm", [disk]);   // deletes the item's blobs; the container stays
    Console.WriteLine("unprotect the item's blobs were removed");
}

return equal ? 0 : 1;

string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

// Only the account's name is shown: the rest of a connection string can hold its key or a SAS signature.
static string AccountName(string connectionString) =>
    connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries)
        .Select(part => part.Split('=', 2))
        .Where(kv => kv.Length == 2 && kv[0].Trim().Equals("AccountName", StringComparison.OrdinalIgnoreCase))
        .Select(kv => kv[1].Trim())
        .FirstOrDefault() ?? (connectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase) ? "devstoreaccount1" : "(unnamed)");

static async Task WriteAsync(TrackedDisk disk, Random random)
{
    byte[] data = new byte[64 << 10];
    for (int i = 0; i < 8; i++)
    {
        random.NextBytes(data);
        await disk.WriteAsync(random.NextInt64(0, (disk.VirtualSize - data.Length) / 512) * 512, data);
    }

    await disk.FlushAsync();
}
