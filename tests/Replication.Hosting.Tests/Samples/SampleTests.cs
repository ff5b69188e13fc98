using System.Diagnostics;
using Replication.Core.Disks;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Tests.Infrastructure;

namespace Replication.Hosting.Tests.Samples;

/// <summary>
/// Runs each sample under samples/ as a user would (the solution build built them; this runs the built dll) and checks
/// what it promises: exit 0, and where the sample leaves a site behind, that its newest recovery point equals the disk.
/// </summary>
public sealed class SampleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Embedding_protects_a_tracked_device_runs_cycles_and_recovers_it_byte_for_byte()
    {
        (int exit, string output, string error) = Run("Replication.Samples.Embedding", [_dir.Path]);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("equal to the device, byte for byte", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("test-failover")) && Directory.EnumerateFiles(_dir.File("test-failover"), "*", SearchOption.AllDirectories).Any(),
            "the test failover's disks remain after its cleanup");
        await AssertNewestPointEqualsAsync(_dir.File("site"), "app", _dir.File("device.img"));
    }

    [Fact]
    public async Task Hosting_runs_jobs_on_demand_in_a_generic_host_and_the_newest_point_equals_the_disk()
    {
        (int exit, string output, string error) = Run("Replication.Samples.Hosting", [_dir.Path]);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        Assert.Equal(2, output.Split('\n').Count(l => l.StartsWith("job   DeltaCycle of app: Succeeded", StringComparison.Ordinal)));
        await AssertNewestPointEqualsAsync(_dir.File("site"), "app", _dir.File("app.vhdx"));
    }

    [Fact]
    public void RecoveryPlan_runs_a_test_failover_with_pre_and_post_actions_and_cleans_it_up()
    {
        (int exit, string output, string error) = Run("Replication.Samples.RecoveryPlan", [_dir.Path]);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        Assert.Equal(3, output.Split('\n').Count(l => l.Contains("equal to its source", StringComparison.Ordinal)));
        Assert.Equal(4, output.Split('\n').Count(l => l.Contains("  pre  group", StringComparison.Ordinal)));
        Assert.Contains("every test failover disk was removed", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AzureSite_replicates_to_Azurite_with_a_connection_string_and_prints_no_key()
    {
        string connectionString = Azurite.ConnectionString();
        (int exit, string output, string error) = Run("Replication.Samples.AzureSite", ["--work", _dir.Path],
            new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = connectionString });
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("in Azure equals the disk byte for byte", output, StringComparison.Ordinal);
        string key = connectionString.Split(';').Select(p => p.Split('=', 2)).Single(kv => kv[0] == "AccountKey")[1];
        Assert.DoesNotContain(key, output + error, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", output + error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AzureSite_without_a_site_says_what_to_give_and_exits_2()
    {
        (int exit, _, string error) = Run("Replication.Samples.AzureSite", ["--work", _dir.Path],
            new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = "", ["REPL_AZURITE_CONNECTION_STRING"] = "" });
        Assert.Equal(2, exit);
        Assert.Contains("--account-url", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// scripts/samples.sh packs Replication.Core and Replication.Hosting into the folder feed with a version of its own,
    /// restores the Packages sample from that feed only (a private package folder, so no cached copy can stand in) and runs it.
    /// </summary>
    [Fact]
    public void Packages_sample_builds_from_the_packed_packages_and_runs()
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Root };
        start.ArgumentList.Add(Path.Combine(Root, "scripts", "samples.sh"));
        start.ArgumentList.Add(_dir.Path);
        start.Environment["CONFIGURATION"] = Configuration;
        start.Environment["REPL_PACK_NO_BUILD"] = "1";   // pack what the solution build produced; nothing is built twice
        (int exit, string output, string error) = Wait(Process.Start(start)!, TimeSpan.FromMinutes(8));
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        string version = output.Split('\n').Single(l => l.StartsWith("packed ", StringComparison.Ordinal))["packed ".Length..].Trim();
        // The script checks the restore graph: both libraries came as packages at the version just packed.
        Assert.Contains($"resolved Replication.Core {version} as a package", output, StringComparison.Ordinal);
        Assert.Contains($"resolved Replication.Hosting {version} as a package", output, StringComparison.Ordinal);
        Assert.Contains("the copy equals the source byte for byte", output, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();

    private static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Root { get; } = FindRoot();

    private static (int Exit, string Output, string Error) Run(string sample, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        string dll = Path.Combine(Root, "samples", sample, "bin", Configuration, "net10.0", sample + ".dll");
        Assert.True(File.Exists(dll), $"{dll} is not built; build Replication.sln first.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return Wait(Process.Start(start)!, TimeSpan.FromMinutes(3));
    }

    private static (int Exit, string Output, string Error) Wait(Process process, TimeSpan bound)
    {
        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(bound))
            {
                process.Kill(entireProcessTree: true);
                throw new Xunit.Sdk.XunitException($"{process.StartInfo.FileName} {string.Join(' ', process.StartInfo.ArgumentList)} did not finish within {bound}");
            }

            return (process.ExitCode, output.Result, error.Result);
        }
    }

    private static async Task AssertNewestPointEqualsAsync(string sitePath, string item, string diskPath)
    {
        var site = new LocalReplicationSite(sitePath);
        var engine = new ReplicationEngine();
        RecoveryPointInfo newest = (await engine.ListRecoveryPointsAsync(site, item))[^1];
        IReadOnlyList<IVirtualDisk> point = await engine.OpenRecoveryPointAsync(site, item, newest.Id);
        try
        {
            using VirtualDisk disk = VirtualDisk.Open(diskPath, DiskOpenOptions.ReadOnlyAccess);
            byte[] expected = new byte[disk.VirtualSize], actual = new byte[point[0].VirtualSize];
            disk.Read(0, expected);
            point[0].Read(0, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{item}: recovery point {newest.Id} differs from {diskPath}");
        }
        finally
        {
            foreach (IVirtualDisk d in point)
            {
                d.Dispose();
            }
        }
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Replication.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Replication.sln above {AppContext.BaseDirectory}.");
    }
}
