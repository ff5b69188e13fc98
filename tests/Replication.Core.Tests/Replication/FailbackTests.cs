using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Replication;

/// <summary>
/// Failback minimising downtime skips hashing a recovered disk again in its last pass only when nothing can have written
/// it or the destination since the first pass: the shortcut is taken for settled, untouched files, and never when either
/// side was written meanwhile, even with its modification time set back, or when the recovered disk's last change is
/// too recent. Either way the destinations end equal to the recovered disks.
/// </summary>
public sealed class FailbackTests : IDisposable
{
    private const long Size = 8 << 20;
    private readonly TempDirectory _dir = new();

    public enum Meanwhile
    {
        /// <summary>Nothing writes either side between the passes.</summary>
        Nothing,

        /// <summary>The recovered machine writes before it stops (after the first pass), as a running machine does.</summary>
        RecoveredWritten,

        /// <summary>The recovered disks are written and their modification times set back to what they were.</summary>
        RecoveredWrittenTimesRestored,

        /// <summary>Something writes the destinations behind the tool's back and sets their modification times back.</summary>
        DestinationWrittenTimesRestored,
    }

    [Theory]
    [InlineData(Meanwhile.Nothing)]
    [InlineData(Meanwhile.RecoveredWritten)]
    [InlineData(Meanwhile.RecoveredWrittenTimesRestored)]
    [InlineData(Meanwhile.DestinationWrittenTimesRestored)]
    public async Task Last_pass_trusts_the_first_only_when_neither_side_was_written_since(Meanwhile meanwhile)
    {
        await using var machine = new TestMachine(_dir, "web", disks: 2, Size, seed: 31);
        (ReplicationEngine engine, IReplicationSite site, IReadOnlyList<string> recovered) = await FailOverAndWriteAsync(machine);

        // Settled: last written long enough before the failback that any later write moves the files' times.
        DateTime settled = DateTime.UtcNow.AddHours(-1);
        foreach (string disk in recovered)
        {
            File.SetLastWriteTimeUtc(disk, settled);
        }

        var random = new Random(5);
        FailbackResult back = await engine.FailbackAsync(new FailbackRequest
        {
            Site = site,
            Name = "web",
            Mode = FailbackMode.MinimizeDowntime,
            StopRecovered = _ =>
            {
                // Between the first pass and the last: what the machine, or something else, does meanwhile.
                if (meanwhile is Meanwhile.RecoveredWritten or Meanwhile.RecoveredWrittenTimesRestored)
                {
                    foreach (string disk in recovered)
                    {
                        WriteSomething(disk, random);
                        if (meanwhile == Meanwhile.RecoveredWrittenTimesRestored)
                        {
                            File.SetLastWriteTimeUtc(disk, settled);
                        }
                    }
                }
                else if (meanwhile == Meanwhile.DestinationWrittenTimesRestored)
                {
                    foreach (string disk in machine.Paths)
                    {
                        DateTime was = File.GetLastWriteTimeUtc(disk);
                        WriteSomething(disk, random);
                        File.SetLastWriteTimeUtc(disk, was);
                    }
                }

                return ValueTask.CompletedTask;
            },
        });

        Assert.Equal(ProtectionState.FailedBack, back.State);
        AssertFilesEqual(recovered, machine.Paths);
        if (meanwhile == Meanwhile.Nothing)
        {
            // The last pass hashed nothing: the first pass's compare stands.
            Assert.Equal(recovered.Count, back.DisksUnchangedSinceFirstPass);
            Assert.Equal(recovered.Count * Size, back.BytesCompared);
            Assert.Equal(0, back.BytesSentWhileStopped);
        }
        else
        {
            // Detected, never trusted: the last pass compared every disk again.
            Assert.Equal(0, back.DisksUnchangedSinceFirstPass);
            Assert.Equal(2 * recovered.Count * Size, back.BytesCompared);
        }

        if (meanwhile is Meanwhile.RecoveredWritten or Meanwhile.RecoveredWrittenTimesRestored)
        {
            Assert.True(back.BytesSentWhileStopped > 0, "the last pass sent nothing although the recovered disks were written after the first");
        }
    }

    [Fact]
    public async Task A_recovered_disk_changed_too_recently_is_hashed_again_in_the_last_pass()
    {
        await using var machine = new TestMachine(_dir, "web", disks: 2, Size, seed: 32);
        (ReplicationEngine engine, IReplicationSite site, IReadOnlyList<string> recovered) = await FailOverAndWriteAsync(machine);

        // Not settled (changed "now", or later by a skewed clock): a write during the first pass could keep the files'
        // times, so their stamps prove nothing. A time ahead of the clock makes this hold however slowly the test runs.
        foreach (string disk in recovered)
        {
            File.SetLastWriteTimeUtc(disk, DateTime.UtcNow.AddHours(1));
        }

        FailbackResult back = await engine.FailbackAsync(new FailbackRequest { Site = site, Name = "web", Mode = FailbackMode.MinimizeDowntime });

        Assert.Equal(0, back.DisksUnchangedSinceFirstPass);
        Assert.Equal(2 * 2 * Size, back.BytesCompared);
        AssertFilesEqual(recovered, machine.Paths);
    }

    [Theory]
    [InlineData(1_500, 2_000, true)]      // sub-second times: settled after 100 ms
    [InlineData(1_500, 1_550, false)]
    [InlineData(1_000, 2_000, false)]     // a whole second: the file system may keep seconds only
    [InlineData(1_000, 3_999, false)]
    [InlineData(1_000, 4_000, true)]
    [InlineData(2_500, 1_500, false)]     // ahead of the clock
    public void A_file_has_settled_once_a_write_is_sure_to_move_its_times(int changedMs, int nowMs, bool settled)
    {
        var origin = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(settled, ReplicationEngine.IsSettled(origin.AddMilliseconds(changedMs), origin.AddMilliseconds(nowMs)));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Protects the machine on a local site, fails it over (planned), commits, and writes about 5% of each recovered disk.</summary>
    private async Task<(ReplicationEngine Engine, IReplicationSite Site, IReadOnlyList<string> Recovered)> FailOverAndWriteAsync(TestMachine machine)
    {
        IReplicationSite site = new LocalReplicationSite(_dir.File("site"));
        var engine = new ReplicationEngine();
        await engine.ProtectAsync(new ProtectionRequest { Machine = machine.For(site), CreateSite = true });
        FailoverResult planned = await engine.FailoverAsync(new FailoverRequest
        {
            Site = site,
            Name = "web",
            Kind = FailoverKind.Planned,
            Machine = machine.For(site),
            ShutdownSource = _ => ValueTask.CompletedTask,
            Output = new DiskFileOutput(_dir.File("dr")),
        });
        await engine.CommitAsync(site, "web");
        await machine.CloseAsync();
        var random = new Random(9);
        foreach (string disk in planned.Machine.Disks)
        {
            for (int i = 0; i < 10; i++)
            {
                WriteSomething(disk, random);
            }
        }

        return (engine, site, planned.Machine.Disks);
    }

    private static void WriteSomething(string path, Random random)
    {
        using VirtualDisk disk = VirtualDisk.Open(path);
        byte[] bytes = new byte[40960];
        random.NextBytes(bytes);
        disk.Write(random.NextInt64(0, (disk.VirtualSize - bytes.Length) / 512) * 512, bytes);
    }

    private static void AssertFilesEqual(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            using VirtualDisk want = VirtualDisk.Open(expected[i], DiskOpenOptions.ReadOnlyAccess);
            using VirtualDisk have = VirtualDisk.Open(actual[i], DiskOpenOptions.ReadOnlyAccess);
            byte[] bytes = new byte[want.VirtualSize];
            want.Read(0, bytes);
            DiskAssert.ContentEquals(bytes, have);
        }
    }
}
