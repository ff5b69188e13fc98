using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>The failover verbs as users run them, the JSON keys scripts rely on, refusals in one line, and the demo.</summary>
public sealed class FailoverVerbTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Failover_commit_failback_and_reverse_from_the_command_line()
    {
        string disk = _dir.File("app.raw");
        File.WriteAllBytes(disk, DiskKinds.ScatteredContent(8 << 20, 4));
        string site = _dir.File("site");
        Repl.Run("protect", disk, "--site", site, "--create", "--nic", "eth0=prod", "--network-map", "prod=dr", "--json").Json();

        string test = _dir.File("test");
        JsonElement failover = Repl.Run("failover", "--site", site, "--kind", "test", "--out", test, "--json").Json();
        foreach (string key in new[] { "kind", "point", "disks", "machine" })
        {
            Assert.True(failover.TryGetProperty(key, out _), $"failover has no '{key}'");
        }

        Assert.Equal("test", failover.GetProperty("kind").GetString());
        string testDisk = failover.GetProperty("disks")[0].GetProperty("path").GetString()!;
        Assert.True(File.Exists(testDisk));
        Assert.Equal("dr", failover.GetProperty("machine").GetProperty("networkAdapters")[0].GetProperty("network").GetString());
        OneLine(Repl.Run("commit", "--site", site), "commit is not allowed");
        Repl.Run("failover", "cleanup", "--site", site, "--out", test, "--json").Json();
        Assert.False(File.Exists(testDisk));
        Assert.False(Directory.Exists(test), "the test failover's folder is removed with its disks");

        JsonElement planned = Repl.Run("failover", "--site", site, "--kind", "planned", "--out", _dir.File("dr"), "--format", "raw", "--json").Json();
        string recovered = planned.GetProperty("disks")[0].GetProperty("path").GetString()!;
        DiskAssert.FilesEqual(disk, recovered);
        Repl.Run("commit", "--site", site, "--json").Json();

        // The recovered machine writes; the failback brings only that back.
        using (var file = new FileStream(recovered, FileMode.Open, FileAccess.Write))
        {
            file.Position = 4096 * 10;
            file.Write(new byte[8192].Select((_, i) => (byte)i).ToArray());
        }

        JsonElement back = Repl.Run("failback", "--site", site, "--mode", "minimize-downtime", "--json").Json();
        foreach (string key in new[] { "mode", "bytesCompared", "bytesSent", "disks" })
        {
            Assert.True(back.TryGetProperty(key, out _), $"failback has no '{key}'");
        }

        Assert.Equal(8192, back.GetProperty("bytesSent").GetInt64());
        DiskAssert.FilesEqual(recovered, disk);
        JsonElement reverse = Repl.Run("reverse", "--site", site, "--json").Json();
        Assert.Equal(8192, reverse.GetProperty("bytesSent").GetInt64()); // the replica still held the failover point
        Assert.Equal("deltaCycle", Repl.Run("replicate", "--site", site, "--json").Json().GetProperty("items")[0].GetProperty("action").GetString());
    }

    [Fact]
    public void The_demo_runs_the_whole_life_cycle_and_checks_it()
    {
        JsonElement demo = Repl.Run("demo", "--json").Json();
        Assert.True(demo.GetProperty("verified").GetBoolean());
        Assert.Equal(
            ["disk", "protect", "cycle", "cycle", "cycle", "points", "test failover", "planned failover", "commit", "failback", "reverse replication"],
            demo.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetString()));
    }

    public void Dispose() => _dir.Dispose();

    private static void OneLine(ExternalTool.Result result, string expected)
    {
        Assert.NotEqual(0, result.ExitCode);
        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("repl: ", StringComparison.Ordinal), result.StandardError);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }
}
