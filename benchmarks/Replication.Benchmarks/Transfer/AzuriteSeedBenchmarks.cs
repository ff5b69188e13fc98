using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using BenchmarkDotNet.Attributes;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Transfer;

namespace Replication.Benchmarks.Transfer;

/// <summary>
/// Seeding a half-zero image into an Azurite page blob: the obvious SDK loop (one 4 MiB UploadPagesAsync at a time,
/// every chunk) is the baseline. Needs REPL_AZURITE_CONNECTION_STRING (benchmarks/ci.sh and compare.sh start Azurite);
/// fails without it. Azurite's own ingest speed bounds both sides; the side-by-side P7/P8 figures come from
/// <c>seed-compare</c>.
/// </summary>
[MemoryDiagnoser]
public class AzuriteSeedBenchmarks
{
    private static readonly long Size = BenchmarkSize.Cap(256L << 20);
    private string _image = null!;
    private string _connectionString = null!;
    private BlobContainerClient _container = null!;
    private VirtualDisk _disk = null!;
    private byte[] _buffer = null!;
    private int _blob;

    [Params(1, 8)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _connectionString = Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")
            ?? throw new InvalidOperationException("REPL_AZURITE_CONNECTION_STRING is not set: start Azurite (scripts/azurite.sh).");
        _image = Path.Combine(Path.GetTempPath(), "repl-bench-azurite-" + Guid.NewGuid().ToString("N") + ".img");
        HalfZeroImage.Create(_image, Size);
        _disk = VirtualDisk.Open(_image, DiskOpenOptions.ReadOnlyAccess);
        _container = new BlobServiceClient(_connectionString).GetBlobContainerClient("bench" + Guid.NewGuid().ToString("N")[..12]);
        _container.Create();
        _buffer = new byte[4 << 20];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _container.Delete();
        _disk.Dispose();
        File.Delete(_image);
    }

    [Benchmark(Baseline = true)]
    public async Task<long> SdkLoop()
    {
        PageBlobClient page = _container.GetPageBlobClient($"loop{_blob++}.vhd");
        await page.CreateAsync(Size + 512);
        for (long offset = 0; offset < Size; offset += _buffer.Length)
        {
            await _disk.ReadAsync(offset, _buffer);
            await page.UploadPagesAsync(new MemoryStream(_buffer), offset);
        }

        await page.DeleteAsync();
        return Size;
    }

    [Benchmark]
    public async Task<long> Pipeline()
    {
        string name = $"ours{_blob++}.vhd";
        var target = new AzurePageBlobTarget(_connectionString, _container.Name, name);
        bool created = await target.CreateReplicaAsync(Size);
        SyncResult result;
        await using (IReplicaWriter writer = await target.AcquireWriterAsync())
        {
            result = await new DiskSynchronizer().SeedAsync(
                _disk, writer, options: new SyncOptions { Transfer = new TransferOptions { MaxConcurrency = Concurrency }, DestinationKnownZero = created });
        }

        await _container.GetBlobClient(name).DeleteAsync(Azure.Storage.Blobs.Models.DeleteSnapshotsOption.IncludeSnapshots);
        return result.DataBytesSent;
    }
}
