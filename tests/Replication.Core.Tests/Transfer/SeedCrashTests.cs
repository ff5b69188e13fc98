using System.Globalization;
using Replication.Core.Disks;
using Replication.Core.Targets;
using Replication.Core.Targets.Azure;
using Replication.Core.Targets.Local;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Tests.Targets;

namespace Replication.Core.Tests.Transfer;

/// <summary>
/// A seed process is killed with SIGKILL at random points and started again until it finishes: each restart resumes
/// from the durable checkpoint and sends exactly the non-zero data above it, and the replica ends byte-identical.
/// </summary>
/// <remarks>
/// The child stops reporting once it has printed the checkpoint the parent kills it at, so however slowly the parent
/// reacts, the kill lands before the seed can finish (a seed that finished first deleted its checkpoint, and the next
/// run rightly started afresh: "run 3 started afresh" on a busy machine). Its other workers' requests are still in
/// flight when the kill lands.
/// </remarks>
public sealed class SeedCrashTests
{
    private const long Size = 48L << 20;

    [Theory]
    [InlineData("local")]
    [InlineData("azure")]
    public async Task A_killed_seed_resumes_and_sends_only_what_remained(string kind)
    {
        using var dir = new TempDirectory();
        byte[] content = ReplicaTargetContractTests.HalfZeroContent(Size, 41);
        string source = dir.File("source.img");
        ReplicaTargetContractTests.WriteRaw(source, content);
        string where = kind == "local" ? dir.File("target") : await Azurite.NewContainerAsync();
        var random = new Random(kind == "local" ? 1 : 2);

        int kills = 0;
        long checkpointBeforeKill = 0;
        for (int run = 0; ; run++)
        {
            Assert.True(run < 12, "the seed did not finish in 12 runs");
            bool kill = run < 3;
            int killAfter = kill ? random.Next(1, 5) : 0;
            int checkpoints = 0;
            long lastCheckpoint = 0;
            string? done = null;
            using (ChildProcess child = ChildProcess.StartDotnet(
                RepoPaths.TestChildDll,
                "seed",
                source,
                dir.File("seed.checkpoint"),
                (24 << 20).ToString(CultureInfo.InvariantCulture),
                kind,
                where,
                killAfter.ToString(CultureInfo.InvariantCulture)))
            {
                while (child.ReadLine() is { } line)
                {
                    if (line.StartsWith("checkpoint ", StringComparison.Ordinal))
                    {
                        lastCheckpoint = long.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
                        if (kill && ++checkpoints == killAfter)
                        {
                            child.Kill();
                            kills++;
                            checkpointBeforeKill = lastCheckpoint;
                            Assert.Null(child.ReadLine());
                            break;
                        }
                    }
                    else if (line.StartsWith("done ", StringComparison.Ordinal))
                    {
                        done = line;
                    }
                }

                if (done is null && !kill)
                {
                    (int exitCode, string stderr) = child.WaitForExit();
                    Assert.Fail($"run {run}: the seed exited {exitCode} without finishing: {stderr}");
                }
            }

            if (done is not null)
            {
                string[] parts = done.Split(' ');
                long sent = long.Parse(parts[1], CultureInfo.InvariantCulture);
                long resumedFrom = long.Parse(parts[2], CultureInfo.InvariantCulture);
                if (run > 0)
                {
                    Assert.True(resumedFrom > 0, $"run {run} started afresh");
                }

                Assert.True(resumedFrom >= checkpointBeforeKill, $"run {run} resumed at {resumedFrom}, below the checkpoint {checkpointBeforeKill} seen before the kill");
                long remaining = ReplicaTargetContractTests.NonZeroUnits(content.AsSpan((int)resumedFrom), 4096) * 4096;
                Assert.Equal(remaining, sent);
                break;
            }
        }

        Assert.True(kills >= 1);
        Assert.False(File.Exists(dir.File("seed.checkpoint")), "the checkpoint outlived the finished seed");
        IReplicaTarget target = kind == "local"
            ? new LocalDirectoryTarget(where, new LocalDirectoryTargetOptions { ReplicaFormat = DiskFormat.Raw })
            : new AzurePageBlobTarget(Azurite.ConnectionString, where, "replica.vhd");
        using IVirtualDisk replica = await target.OpenReplicaAsync();
        DiskAssert.ContentEquals(content, replica);
    }
}
