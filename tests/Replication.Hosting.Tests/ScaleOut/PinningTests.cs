using System.Threading.Channels;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.ScaleOut;

/// <summary>
/// Two host processes sharing PostgreSQL (Quartz clustered) and an Azure site (Azurite): an item pinned to host B is run
/// by B alone — added by A, run while both are up, waiting while B is down (A runs its other item meanwhile and never the
/// pinned one), and going on when B starts again.
/// </summary>
public sealed class PinningTests : IDisposable
{
    private const long Size = 1 << 20;
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task An_item_pinned_to_a_host_runs_only_there_and_waits_while_that_host_is_down()
    {
        string azure = Azurite.ConnectionString();
        string container = "pin-" + Guid.NewGuid().ToString("N")[..12];
        await new Azure.Storage.Blobs.BlobContainerClient(azure, container).CreateAsync();
        using var postgres = new PostgresServer();
        string database = postgres.CreateDatabase();
        string pinnedDisk = _dir.File("pinned.raw");
        string freeDisk = _dir.File("free.raw");
        File.WriteAllBytes(pinnedDisk, TestDisks.Content(Size, seed: 1));
        File.WriteAllBytes(freeDisk, TestDisks.Content(Size, seed: 2));

        // Every job line of both hosts: "job ID KIND ITEM STATE HOST TICKS".
        Channel<string[]> jobs = Channel.CreateUnbounded<string[]>();
        var seen = new List<string[]>();
        HostChild Start(string host) => new(_dir.Path, DateTimeOffset.UnixEpoch, "none", l =>
        {
            if (l.StartsWith("job ", StringComparison.Ordinal))
            {
                jobs.Writer.TryWrite(l.Split(' '));
            }
        }, host, database, azure, container);

        using HostChild a = Start("A");
        await a.WaitForAsync(l => l == "ready", minutes: 3);
        HostChild b = Start("B");
        try
        {
            await b.WaitForAsync(l => l == "ready", minutes: 3);
            a.Send($"add-pinned pinned B 30 {pinnedDisk}");
            a.Send($"add free 30 {freeDisk}");
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(8));

            // Both up: the pinned item is protected and runs a cycle, on B.
            await UntilAsync(j => j is [_, _, "DeltaCycle", "pinned", "Succeeded", ..]);
            b.Kill();
            b.Dispose();

            // B down: A runs two cycles of the other item; the pinned one waits (its jobs' lines come from B only).
            int before = seen.Count;
            await UntilAsync(_ => seen.Skip(before).Count(j => j is [_, _, "DeltaCycle", "free", "Succeeded", "A", ..]) >= 2);
            Assert.DoesNotContain(seen.Skip(before), j => j[3] == "pinned" && j[5] != "B");

            // B back: the pinned item goes on there.
            b = Start("B");
            await b.WaitForAsync(l => l == "ready", minutes: 3);
            before = seen.Count;
            await UntilAsync(_ => seen.Skip(before).Any(j => j is [_, _, "DeltaCycle", "pinned", "Succeeded", ..]));
            Assert.All(seen.Where(j => j[3] == "pinned"), j => Assert.Equal("B", j[5]));
            Assert.DoesNotContain(seen, j => j[4] == "Failed");

            async Task UntilAsync(Func<string[], bool> done)
            {
                while (true)
                {
                    string[] job;
                    try
                    {
                        job = await jobs.Reader.ReadAsync(bound.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        throw new Xunit.Sdk.XunitException($"the hosts stopped short (8 minutes of wall time bound the test); jobs seen:\n{string.Join('\n', seen.Select(j => string.Join(' ', j)))}\nA:\n{string.Join('\n', a.Lines.TakeLast(30))}");
                    }

                    seen.Add(job);
                    if (done(job))
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            b.Dispose();
        }
    }

    public void Dispose() => _dir.Dispose();
}
