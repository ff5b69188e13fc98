using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// The replication verbs as users run them: protect, replicate, status, points, resync, unprotect, on a local site and
/// an Azure one; the JSON keys that scripts rely on; one-line refusals.
/// </summary>
public sealed class ProtectionVerbTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public static TheoryData<string> Sites() => ["local", "azure"];

    [Theory]
    [MemberData(nameof(Sites))]
    public async Task Protect_replicate_status_points_resync_unprotect(string kind)
    {
        string d0 = Disk("d0.raw", 16 << 20, seed: 1);
        string d1 = Disk("d1.raw", 8 << 20, seed: 2);
        string[] site = kind == "local"
            ? ["--site", _dir.File("site")]
            : ["--connection-string", Azurite.ConnectionString, "--container", await Azurite.NewContainerAsync()];

        JsonElement protect = Repl.Run(["protect", d0, d1, "--name", "web", .. site, "--create", "--nic", "eth0=prod", "--network-map", "prod=dr", "--json"]).Json();
        Assert.Equal("web", protect.GetProperty("name").GetString());
        Assert.Equal("protected", protect.GetProperty("state").GetString());
        Assert.Equal([d0, d1], protect.GetProperty("disks").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal("1", protect.GetProperty("recoveryPoint").GetString());
        Assert.True(protect.GetProperty("bytesSent").GetInt64() > 0);

        // A change made by another program while nothing tracks the disk: the next run finds it and resyncs.
        Overwrite(d1, 4096 * 100, 8192, seed: 3);
        JsonElement item = Assert.Single(Repl.Run(["replicate", .. site, "--json"]).Json().GetProperty("items").EnumerateArray());
        Assert.Equal("web", item.GetProperty("name").GetString());
        Assert.Equal("resync", item.GetProperty("action").GetString());
        Assert.Equal(8192, item.GetProperty("bytesSent").GetInt64());
        Assert.Equal("2", item.GetProperty("recoveryPoint").GetString());

        item = Assert.Single(Repl.Run(["replicate", .. site, "--json"]).Json().GetProperty("items").EnumerateArray());
        Assert.Equal("deltaCycle", item.GetProperty("action").GetString());
        Assert.Equal(0, item.GetProperty("bytesSent").GetInt64());

        JsonElement status = Assert.Single(Repl.Run(["status", .. site, "--json"]).Json().GetProperty("items").EnumerateArray());
        foreach (string key in new[] { "name", "state", "disks", "lastRecoveryPoint", "rpoSeconds", "pendingLogBytes", "resyncRequired" })
        {
            Assert.True(status.TryGetProperty(key, out _), $"status has no '{key}'");
        }

        Assert.Equal("3", status.GetProperty("lastRecoveryPoint").GetString());
        Assert.False(status.GetProperty("resyncRequired").GetBoolean());
        Assert.Equal(2, status.GetProperty("disks").GetArrayLength());
        Assert.Contains("web", Repl.Run(["status", .. site]).EnsureSuccess("status").StandardOutput, StringComparison.Ordinal);

        JsonElement points = Repl.Run(["points", .. site, "--name", "web", "--json"]).Json();
        Assert.Equal(["1", "2", "3"], points.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        JsonElement first = points.GetProperty("points")[0];
        foreach (string key in new[] { "id", "time", "kind", "disks" })
        {
            Assert.True(first.TryGetProperty(key, out _), $"a point has no '{key}'");
        }

        JsonElement resync = Repl.Run(["resync", .. site, "--json"]).Json();
        Assert.Equal(0, resync.GetProperty("bytesSent").GetInt64());
        Assert.Equal(24L << 20, resync.GetProperty("bytesCompared").GetInt64());

        Repl.Run(["unprotect", .. site, "--name", "web", "--json"]).Json();
        Assert.Empty(Repl.Run(["status", .. site, "--json"]).Json().GetProperty("items").EnumerateArray());
        Repl.Run(["protect", d1, .. site, "--json"]).Json();
    }

    [Fact]
    public void Refusals_are_one_line()
    {
        string d0 = Disk("d0.raw", 4 << 20, seed: 1);
        string site = _dir.File("site");
        OneLine(Repl.Run("replicate", "--site", site), "no such directory");
        OneLine(Repl.Run("protect", d0, "--site", site), "no such directory");
        Repl.Run("protect", d0, "--site", site, "--create", "--json").Json();
        OneLine(Repl.Run("protect", d0, "--site", site, "--name", "other"), "is protected as disk 0 of 'd0'");
        OneLine(Repl.Run("protect", _dir.File("missing.raw"), "--site", site), "does not exist");
        OneLine(Repl.Run("points", "--site", site, "--name", "nope"), "no protected item 'nope'");
        OneLine(Repl.Run("protect", d0, "--site", site, "--name", "bad name"), "not a valid item name");
    }

    public void Dispose() => _dir.Dispose();

    private static void OneLine(ExternalTool.Result result, string expected)
    {
        Assert.NotEqual(0, result.ExitCode);
        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("repl: ", StringComparison.Ordinal), result.StandardError);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    private string Disk(string name, long size, int seed)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, DiskKinds.ScatteredContent(size, seed));
        return path;
    }

    private static void Overwrite(string path, long offset, int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }
}
