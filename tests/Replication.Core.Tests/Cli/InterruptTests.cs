using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// Stopping a command: SIGINT and SIGTERM save the checkpoint, release the writer fence and exit 130/143 with one line
/// that says how to resume, and the same command then resumes without --break-fence. A writer killed outright leaves a
/// fence that the next run recognises as stale (local site) or reports with its expiry and --break-fence (Azure).
/// </summary>
public sealed class InterruptTests : IDisposable
{
    private const int Size = 48 << 20;
    private const int SigInt = 2;
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData(SigInt, 130, "local")]
    [InlineData(SigTerm, 143, "local")]
    [InlineData(SigTerm, 143, "azure")]
    public async Task A_signal_saves_the_checkpoint_releases_the_fence_and_the_same_command_resumes(int signal, int exitCode, string kind)
    {
        string source = NewSource();
        string[] site = await SiteAsync(kind);
        using (Upload running = Upload.Start([source, .. site, "--create", "--max-bytes-per-second", "4MiB"]))
        {
            running.WaitForCheckpoint();
            running.Signal(signal);
            (int code, string rest) = running.WaitForExit();
            Assert.Equal(exitCode, code);
            string last = rest.TrimEnd().Split('\n')[^1];
            Assert.Contains($"interrupted by {(signal == SigInt ? "SIGINT" : "SIGTERM")}", last, StringComparison.Ordinal);
            Assert.Contains("run the same command again to resume", last, StringComparison.Ordinal);
        }

        JsonElement resumed = Repl.Run(["upload", source, .. site, "--create", "--json"]).Json();
        Assert.True(resumed.GetProperty("resumedFrom").GetInt64() > 0, resumed.ToString());
        AssertSiteEquals(source, site);
    }

    [Fact]
    public async Task A_killed_writer_leaves_a_local_fence_that_the_next_run_takes_over_as_stale()
    {
        string source = NewSource();
        string[] site = await SiteAsync("local");
        using (Upload running = Upload.Start([source, .. site, "--create", "--max-bytes-per-second", "4MiB"]))
        {
            running.WaitForCheckpoint();
            running.Signal(SigKill);
            running.WaitForExit();
        }

        Repl.Run(["upload", source, .. site, "--json"]).Json();
        AssertSiteEquals(source, site);
    }

    [Fact]
    public async Task A_killed_writer_on_azure_is_reported_with_its_lease_and_break_fence()
    {
        string source = NewSource();
        string[] site = await SiteAsync("azure");
        using (Upload running = Upload.Start([source, .. site, "--max-bytes-per-second", "4MiB"]))
        {
            running.WaitForCheckpoint();
            running.Signal(SigKill);
            running.WaitForExit();
        }

        ExternalTool.Result held = Repl.Run(["upload", source, .. site, "--json"]);
        Assert.Equal(1, held.ExitCode);
        AssertOneLine(held.StandardError, "lease", "--break-fence");
        Repl.Run(["upload", source, .. site, "--break-fence", "--json"]).Json();
        AssertSiteEquals(source, site);
    }

    [Fact]
    public async Task A_fence_held_by_a_live_writer_is_reported_with_its_expiry_and_break_fence()
    {
        string source = NewSource();
        string[] site = await SiteAsync("local");
        using Upload running = Upload.Start([source, .. site, "--create", "--max-bytes-per-second", "4MiB"]);
        running.WaitForCheckpoint();
        ExternalTool.Result held = Repl.Run(["upload", source, .. site, "--json"]);
        Assert.Equal(1, held.ExitCode);
        AssertOneLine(held.StandardError, "running process", "until", "--break-fence");
        running.Signal(SigInt);
        Assert.Equal(130, running.WaitForExit().ExitCode);
    }

    public void Dispose() => _dir.Dispose();

    private static void AssertOneLine(string standardError, params string[] parts)
    {
        string[] lines = standardError.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1, $"expected one line, got:\n{standardError}");
        foreach (string part in parts)
        {
            Assert.Contains(part, lines[0], StringComparison.Ordinal);
        }
    }

    private string NewSource()
    {
        // Data everywhere, so that every byte is sent and the bandwidth limit keeps the upload running.
        byte[] content = new byte[Size];
        new Random(7).NextBytes(content);
        string path = _dir.File("source.raw");
        File.WriteAllBytes(path, content);
        return path;
    }

    private async Task<string[]> SiteAsync(string kind) => kind == "local"
        ? ["--target", _dir.File("site")]
        : ["--connection-string", Azurite.ConnectionString, "--container", await Azurite.NewContainerAsync(), "--blob", "disk.vhd"];

    private void AssertSiteEquals(string source, string[] site)
    {
        string back = _dir.File("back.raw");
        Repl.Run(["download", .. site.Where(s => s != "--create"), back, "--format", "raw", "--json"]).Json();
        DiskAssert.FilesEqual(source, back);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>A running <c>repl upload</c> whose progress lines on standard error are read as they come.</summary>
    private sealed class Upload : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];

        private Upload(Process process) => _process = process;

        public static Upload Start(string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            // A SIGKILLed runtime cannot remove its diagnostic pipes from /tmp; the upload is not debugged, so open none.
            start.Environment["DOTNET_EnableDiagnostics"] = "0";
            start.ArgumentList.Add(RepoPaths.ReplDll);
            start.ArgumentList.Add("upload");
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            return new Upload(Process.Start(start)!);
        }

        /// <summary>Reads progress lines until one reports a durable checkpoint past the start.</summary>
        public void WaitForCheckpoint()
        {
            while (_process.StandardError.ReadLine() is { } line)
            {
                _lines.Add(line);
                if (line.StartsWith("repl: upload ", StringComparison.Ordinal) && !line.EndsWith("checkpoint at 0 B)", StringComparison.Ordinal))
                {
                    return;
                }
            }

            throw new Xunit.Sdk.XunitException($"the upload ended before it saved a checkpoint:\n{string.Join('\n', _lines)}");
        }

        public void Signal(int signal) => Assert.Equal(0, Kill(_process.Id, signal));

        public (int ExitCode, string StandardError) WaitForExit()
        {
            string rest = _process.StandardError.ReadToEnd();
            if (!_process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                throw new Xunit.Sdk.XunitException("repl upload did not exit within two minutes of the signal.");
            }

            return (_process.ExitCode, rest);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
