using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Tests.ChangeTracking;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// A machine of raw disks written through tracked disks by background writers, as a guest would: random writes and
/// flushes. Its quiesce callback pauses the writers and snapshots every disk, so a test knows exactly what an
/// application-consistent point must hold.
/// </summary>
internal sealed class TestMachine : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly SemaphoreSlim _pause = new(1, 1);
    private readonly List<Task> _writers = [];
    private CancellationTokenSource? _stop;

    public TestMachine(TempDirectory dir, string name, int disks, long size, int seed)
    {
        _dir = dir;
        Name = name;
        Size = size;
        Paths = [.. Enumerable.Range(0, disks).Select(i => dir.File($"{name}-{i}.raw"))];
        for (int i = 0; i < disks; i++)
        {
            File.WriteAllBytes(Paths[i], DiskKinds.ScatteredContent(size, seed + i));
        }

        Disks = [.. Paths.Select(Open)];
    }

    public string Name { get; }

    public long Size { get; }

    public string[] Paths { get; }

    public TrackedDisk[] Disks { get; private set; }

    /// <summary>What each disk held when the quiesce callback last ran, by the point's cycle (1, 2, ...).</summary>
    public List<byte[][]> Snapshots { get; } = [];

    public ProtectedMachine For(IReplicationSite site) => new(site, Name, Disks) { Quiesce = QuiesceAsync };

    /// <summary>Starts writers that keep writing random data through the tracked disks until stopped.</summary>
    public void StartWriting(int seed)
    {
        _stop = new CancellationTokenSource();
        CancellationToken stop = _stop.Token;
        for (int w = 0; w < Disks.Length; w++)
        {
            int disk = w;
            _writers.Add(Task.Run(async () =>
            {
                var random = new Random(seed + disk);
                for (int n = 0; !stop.IsCancellationRequested; n++)
                {
                    await _pause.WaitAsync(CancellationToken.None);
                    try
                    {
                        byte[] data = new byte[random.Next(1, 64) * 512];
                        random.NextBytes(data);
                        long offset = random.NextInt64(0, (Size - data.Length) / 512) * 512;
                        await Disks[disk].WriteAsync(offset, data);
                        if (n % 8 == 0)
                        {
                            await Disks[disk].FlushAsync();
                        }
                    }
                    finally
                    {
                        _pause.Release();
                    }

                    // Bounded: a few hundred writes between cycles is plenty, and keeps the logs small.
                    if (n % 64 == 63)
                    {
                        await Task.Yield();
                    }
                }
            }));
        }
    }

    public async Task StopWritingAsync()
    {
        if (_stop is null)
        {
            return;
        }

        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
        _writers.Clear();
        _stop.Dispose();
        _stop = null;
    }

    /// <summary>The disks' current content (writers should be stopped or paused).</summary>
    public byte[][] ReadAll() => [.. Disks.Select(TrackingTestSupport.ReadAll)];

    /// <summary>Closes the tracked disks cleanly (tracking stops: what a shutdown of the primary does).</summary>
    public async Task CloseAsync()
    {
        await StopWritingAsync();
        foreach (TrackedDisk disk in Disks)
        {
            await disk.DisposeAsync();
        }
    }

    /// <summary>Opens the tracked disks again (tracking resumes; anything written meanwhile is found).</summary>
    public void OpenAgain() => Disks = [.. Paths.Select(Open)];

    public async ValueTask DisposeAsync()
    {
        await StopWritingAsync();
        foreach (TrackedDisk disk in Disks)
        {
            await disk.DisposeAsync();
        }

        _pause.Dispose();
    }

    private TrackedDisk Open(string path) => TrackedDisk.Open(VirtualDisk.Open(path), path + ".logs", TrackingTestSupport.Options());

    private async ValueTask<IAsyncDisposable> QuiesceAsync(CancellationToken cancellationToken)
    {
        // Every writer finishes its write in flight and waits; the disks are then what the point must hold.
        await _pause.WaitAsync(cancellationToken);
        foreach (TrackedDisk disk in Disks)
        {
            await disk.FlushAsync(cancellationToken);
        }

        Snapshots.Add(ReadAll());
        return new Thaw(_pause);
    }

    private sealed class Thaw(SemaphoreSlim pause) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            pause.Release();
            return ValueTask.CompletedTask;
        }
    }
}
