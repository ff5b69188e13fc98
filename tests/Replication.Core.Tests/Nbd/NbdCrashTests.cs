using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.Cli;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.TrackingTestSupport;
using static Replication.Core.Tests.Infrastructure.NbdTestClient;

namespace Replication.Core.Tests.Nbd;

/// <summary>
/// <c>repl nbd serve</c> killed with SIGKILL while two connections write and flush: at a random write, with writes or a
/// flush in flight. A flush on one connection covers the writes completed on both (NBD_FLAG_CAN_MULTI_CONN). After the
/// tracked disk reopens, every write whose flush completed is on the disk and in the sealed logs; bytes never written
/// are unchanged in both; and the replica (starting disk plus sealed logs) equals the disk outside the ranges the
/// tracker reports for a resync.
/// </summary>
public sealed class NbdCrashTests
{
    private const int Size = 4 << 20;
    private const int Slot = 64 << 10;

    [Fact]
    public void Killed_while_clients_write_and_flush_loses_no_flushed_write()
    {
        int points = TestKnobs.Count("REPL_NBD_CRASH_POINTS", 12);
        var failures = new ConcurrentQueue<string>();
        Parallel.For(0, points, new ParallelOptions { MaxDegreeOfParallelism = 2 }, point =>
        {
            try
            {
                KillAndCheck(20261204 + point).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failures.Enqueue($"kill point {point}: {ex}");
            }
        });

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures.Take(3)));
    }

    /// <summary>
    /// As above with whole 64 KiB writes only, each of which the tracker logs straight from the request's payload,
    /// written after its entry and alongside the disk write.
    /// </summary>
    [Fact]
    public void Killed_while_clients_write_whole_64KiB_blocks_and_flush_loses_no_flushed_write()
    {
        int points = TestKnobs.Count("REPL_NBD_CRASH_POINTS", 12);
        var failures = new ConcurrentQueue<string>();
        Parallel.For(0, points, new ParallelOptions { MaxDegreeOfParallelism = 2 }, point =>
        {
            try
            {
                KillAndCheck(20261205 + point, wholeSlots: true).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failures.Enqueue($"kill point {point}: {ex}");
            }
        });

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures.Take(3)));
    }

    private static async Task KillAndCheck(int seed, bool wholeSlots = false)
    {
        var random = new Random(seed);
        using var temp = new TempDirectory();
        byte[] start = DiskKinds.ScatteredContent(Size, seed);
        string path = temp.File("disk.img");
        await File.WriteAllBytesAsync(path, start);
        string logs = temp.File("logs");
        int[] slots = [.. Enumerable.Range(0, Size / Slot).OrderBy(_ => random.Next())];
        int killAt = random.Next(1, slots.Length);
        int flushEvery = random.Next(1, 6);
        int mode = random.Next(3);
        var writes = new List<(long Offset, byte[] Data)>();
        var completed = new List<int>();
        var durable = new HashSet<int>();

        (ChildProcess child, JsonElement listening) = NbdVerbTests.Serve(path, "--logs", logs, "--listen", "127.0.0.1:0");
        using (child)
        {
            var uri = new Uri(listening.GetProperty("uri").GetString()!);
            var endPoint = new IPEndPoint(IPAddress.Loopback, uri.Port);
            using NbdTestClient a = NbdTestClient.Connect(endPoint);
            using NbdTestClient b = NbdTestClient.Connect(endPoint);
            a.Handshake("disk.img");
            b.Handshake("disk.img");
            NbdTestClient[] clients = [a, b];
            for (int i = 0; i < killAt; i++)
            {
                int sectors = wholeSlots ? Slot / 512 : random.Next(1, (Slot / 512) + 1);
                long offset = ((long)slots[i] * Slot) + (512L * random.Next(0, (Slot / 512) - sectors + 1));
                byte[] data = new byte[sectors * 512];
                random.NextBytes(data);
                writes.Add((offset, data));
                NbdTestClient client = clients[i % 2];
                bool last = i == killAt - 1;
                client.SendRequest(Write, (ulong)i, (ulong)offset, (uint)data.Length, payload: data);
                if (last && mode == 0)
                {
                    // Killed with this write in flight.
                    break;
                }

                Assert.Equal(0U, client.ReadReply().Error);
                completed.Add(i);
                if (i % flushEvery == flushEvery - 1 || (last && mode == 1))
                {
                    // Flushed on the other connection: it must cover the writes completed on both.
                    NbdTestClient flusher = clients[(i + 1) % 2];
                    flusher.SendRequest(Flush, 1_000_000UL + (ulong)i, 0, 0);
                    if (last && mode == 1)
                    {
                        // Killed with this flush in flight: its writes are not known to be durable.
                        break;
                    }

                    Assert.Equal(0U, flusher.ReadReply().Error);
                    durable.UnionWith(completed);
                }
            }

            child.Kill();
        }

        string context = $"seed {seed}: killed after {killAt} writes, flush every {flushEvery}, mode {mode}, {durable.Count} durable";
        byte[] current;
        byte[] replica = (byte[])start.Clone();
        IReadOnlyList<DiskExtent> mayDiffer;
        await using (TrackedDisk disk = TrackedDisk.Open(VirtualDisk.Open(path), logs))
        {
            Assert.False(disk.OpenReport.WasClosedCleanly, context);
            ResyncRequirement resync = disk.Resync;
            Assert.True(resync.Reasons.HasFlag(ResyncReasons.UncleanShutdown), context);
            mayDiffer = resync.WholeDisk ? [new DiskExtent(0, Size)] : resync.Ranges;
            current = ReadAll(disk);
            Replay(replica, Records(disk.PendingLogs.Select(l => l.Path)));
        }

        foreach (int i in durable)
        {
            (long offset, byte[] data) = writes[i];
            Assert.True(data.AsSpan().SequenceEqual(current.AsSpan((int)offset, data.Length)), $"{context}: flushed write {i} is not on the disk");
            Assert.True(data.AsSpan().SequenceEqual(replica.AsSpan((int)offset, data.Length)), $"{context}: flushed write {i} is not in the logs");
        }

        var written = writes.Select(w => new DiskExtent(w.Offset, w.Data.Length)).ToList();
        DifferOnlyInside(start, current, written, $"{context}: disk vs start");
        DifferOnlyInside(start, replica, written, $"{context}: logs vs start");
        DifferOnlyInside(replica, current, mayDiffer, $"{context}: replica vs disk outside the reported ranges");
    }
}
