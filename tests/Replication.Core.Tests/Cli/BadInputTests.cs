using System.Net;
using System.Net.Sockets;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// Bad input to every verb (a missing file, a file of the wrong format, a bad size, an unreachable site, wrong
/// credentials) gives one line on standard error, nothing on standard output and the documented exit code: 1 for an
/// error, 2 for a usage mistake. No stack trace unless --verbose, and no key or SAS signature in any output.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public static TheoryData<string, int, string> Cases() => new()
    {
        // A missing file.
        { "disk info missing.vhdx", 1, "the disk file does not exist" },
        { "disk convert missing.raw out.vhdx --format vhdx", 1, "the disk file does not exist" },
        { "disk manifest missing.raw -o m.manifest", 1, "the disk file does not exist" },
        { "disk diff ok.raw missing.raw", 1, "the disk file does not exist" },
        { "disk sync missing.raw ok.raw", 1, "the disk file does not exist" },
        { "upload missing.raw --target site --create", 1, "the disk file does not exist" },
        { "download --target missing-site out.raw", 1, "no such directory" },
        { "hrl dump missing.hrl", 1, "the log file does not exist" },
        { "hrl diff missing.raw ok.raw -o d.hrl", 1, "does not exist" },
        { "hrl apply ok.raw missing.hrl", 1, "does not exist" },
        { "nbd serve missing.raw", 1, "the disk file does not exist" },
        { "protect missing.raw --site site --create", 1, "the disk file does not exist" },
        { "replicate --site missing-site", 1, "no such directory" },
        { "status --site missing-site", 1, "no such directory" },
        { "points --site missing-site", 1, "no such directory" },
        { "resync --site missing-site", 1, "no such directory" },
        { "unprotect --site missing-site", 1, "no such directory" },
        { "failover --kind test --site missing-site", 1, "no such directory" },
        { "failover cleanup --site missing-site", 1, "no such directory" },
        { "commit --site missing-site", 1, "no such directory" },
        { "failback --mode full-download --site missing-site", 1, "no such directory" },
        { "reverse --site missing-site", 1, "no such directory" },

        // The wrong format.
        { "disk info text.vhdx", 1, "invalid raw image length" },
        { "disk manifest text.vhdx -o m.manifest", 1, "invalid raw image length" },
        { "disk sync ok.raw text.vhdx", 1, "invalid raw image length" },
        { "upload text.vhdx --target site --create", 1, "invalid raw image length" },
        { "hrl dump text.vhdx", 1, "invalid HRL file header" },
        { "protect text.vhdx --site site --create", 1, "invalid raw image length" },
        { "disk create x.img --size 1MiB --format qcow2", 2, "qcow2" },
        { "failover --kind sideways --site site", 2, "sideways" },

        // A bad size or value.
        { "disk create x.raw --size 12QB --format raw", 2, "'12QB' is not a size" },
        { "disk create x.raw --size 1000 --format raw", 1, "multiple of 512" },
        { "disk manifest ok.raw -o m.manifest --block-size 3KiB", 1, "--block-size" },
        { "upload ok.raw --target site --create --max-bytes-per-second lots", 2, "'lots' is not a size" },
        { "protect ok.raw --site site --create --memory 1XB", 2, "'1XB' is not a size" },
        { "protect ok.raw --site site --create --retention soon", 1, "'soon' is not a duration" },
        { "demo --sites x", 2, "--sites" },

        // A usage mistake.
        { "uplaod ok.raw", 2, "did you mean 'upload'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_gives_one_line_and_the_documented_exit_code(string command, int exitCode, string expected)
    {
        Prepare();
        ExternalTool.Result result = RunIn(command.Split(' '));
        AssertOneLine(result, exitCode, expected);
    }

    [Fact]
    public void An_unreachable_azure_site_is_one_line_for_the_site_verbs_and_upload()
    {
        Prepare();
        string closed = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={Azurite.AccountKey};BlobEndpoint=http://127.0.0.1:{ClosedPort()}/devstoreaccount1;";
        AssertOneLine(RunIn(["status", "--connection-string", closed, "--container", "replicas"]), 1, "no answer from the service");
        AssertOneLine(RunIn(["upload", "ok.raw", "--connection-string", closed, "--container", "replicas", "--blob", "d.vhd"]), 1, "gave up after");
    }

    [Fact]
    public async Task Wrong_credentials_are_one_line_without_the_key()
    {
        Prepare();
        string container = await Azurite.NewContainerAsync();
        string wrong = Azurite.WithWrongKey();
        string key = wrong.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))["AccountKey=".Length..];
        foreach (string[] args in new[]
        {
            ["status", "--connection-string", wrong, "--container", container],
            ["protect", "ok.raw", "--connection-string", wrong, "--container", container],
            new[] { "upload", "ok.raw", "--connection-string", wrong, "--container", container, "--blob", "d.vhd" },
        })
        {
            ExternalTool.Result result = RunIn(args);
            AssertOneLine(result, 1, "key, SAS or token");
            Assert.DoesNotContain(key, result.StandardError + result.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Keys_and_sas_signatures_never_appear_in_output_even_with_verbose()
    {
        Prepare();
        const string Signature = "c2VjcmV0LXNpZ25hdHVyZS1kby1ub3QtcHJpbnQ";
        int port = ClosedPort();
        string sas = $"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;SharedAccessSignature=sv=2023-01-03&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig={Signature}";
        string key = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={Azurite.AccountKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";
        foreach (string connection in new[] { sas, key })
        {
            foreach (string[] extra in new[] { Array.Empty<string>(), ["--verbose"] })
            {
                ExternalTool.Result result = RunIn(["status", "--connection-string", connection, "--container", "replicas", .. extra]);
                Assert.Equal(1, result.ExitCode);
                string all = result.StandardOutput + result.StandardError;
                Assert.DoesNotContain(Signature, all, StringComparison.Ordinal);
                Assert.DoesNotContain(Azurite.AccountKey, all, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Verbose_adds_the_stack_trace_after_the_line()
    {
        Prepare();
        ExternalTool.Result result = RunIn(["disk", "info", "missing.vhdx", "--verbose"]);
        Assert.Equal(1, result.ExitCode);
        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.StartsWith("repl: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines[1..], l => l.TrimStart().StartsWith("at Replication.", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_verb_has_help_with_an_example()
    {
        foreach (string verb in new[]
        {
            "disk info", "disk create", "disk convert", "disk manifest", "disk diff", "disk sync", "upload", "download", "hrl dump", "hrl diff",
            "hrl apply", "nbd serve", "protect", "replicate", "status", "points", "resync", "unprotect", "failover", "failover cleanup", "commit",
            "failback", "reverse", "demo",
        })
        {
            ExternalTool.Result help = Repl.Run([.. verb.Split(' '), "--help"]);
            Assert.Equal(0, help.ExitCode);
            Assert.Matches($@"Example:\s*\n\s+repl {verb}(\s|$)", help.StandardOutput.ReplaceLineEndings("\n"));
            Assert.Contains("--verbose", help.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("--quiet", help.StandardOutput, StringComparison.Ordinal);
        }

        Assert.Contains("Exit codes: 0 success, 1 error", Repl.Run("--help").StandardOutput, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();

    private static void AssertOneLine(ExternalTool.Result result, int exitCode, string expected)
    {
        Assert.True(result.ExitCode == exitCode, $"exit {result.ExitCode}, not {exitCode}:\n{result.StandardError}");
        Assert.Equal("", result.StandardOutput);
        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("repl: ", StringComparison.Ordinal), $"not one line:\n{result.StandardError}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    /// <summary>Runs repl in this test's folder, which holds ok.raw (1 MiB of zeros) and text.vhdx (a text file).</summary>
    private ExternalTool.Result RunIn(string[] args)
    {
        Assert.True(File.Exists(RepoPaths.ReplDll), $"{RepoPaths.ReplDll} is not built; build the solution first.");
        return ExternalTool.RunProgram("dotnet", [RepoPaths.ReplDll, .. args], workingDirectory: _dir.Path);
    }

    private void Prepare()
    {
        File.WriteAllText(_dir.File("text.vhdx"), "hello\n");
        File.WriteAllBytes(_dir.File("ok.raw"), new byte[1 << 20]);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
