using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// Progress of every long verb: plain lines on standard error when it is not a terminal (a log, a pipe), a live bar
/// when it is (run under script(1), which gives the program a terminal), and nothing with --json or --quiet.
/// </summary>
public sealed partial class ProgressTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Disk_verbs_print_progress_lines_and_nothing_with_json_or_quiet()
    {
        string disk = _dir.File("d.raw");
        File.WriteAllBytes(disk, DiskKinds.ScatteredContent(8 << 20, 11));
        foreach (string mode in new[] { "", "--quiet", "--json" })
        {
            string n = mode.TrimStart('-');
            string copy = _dir.File($"copy{n}.raw");
            File.WriteAllBytes(copy, new byte[8 << 20]);
            (string Label, string[] Args)[] verbs =
            [
                ("convert", ["disk", "convert", disk, _dir.File($"c{n}.vhdx"), "--format", "vhdx"]),
                ("manifest", ["disk", "manifest", disk, "-o", _dir.File($"m{n}.manifest")]),
                ("sync", ["disk", "sync", disk, copy]),
                ("upload", ["upload", disk, "--target", _dir.File($"site{n}"), "--create"]),
                ("download", ["download", "--target", _dir.File($"site{n}"), _dir.File($"back{n}.raw")]),
            ];
            foreach ((string label, string[] args) in verbs)
            {
                ExternalTool.Result result = Repl.Run(mode.Length == 0 ? args : [.. args, mode]);
                AssertProgress(result, label, mode);
            }
        }
    }

    [Fact]
    public void Replication_verbs_print_progress_lines_and_nothing_with_json_or_quiet()
    {
        foreach (string mode in new[] { "", "--quiet", "--json" })
        {
            string n = mode.TrimStart('-');
            string disk = _dir.File($"vm{n}.raw");
            File.WriteAllBytes(disk, DiskKinds.ScatteredContent(8 << 20, 12));
            string[] site = ["--site", _dir.File($"site{n}")];
            string[] Verb(params string[] args) => mode.Length == 0 ? [.. args, .. site] : [.. args, .. site, mode];

            AssertProgress(Repl.Run(Verb("protect", disk, "--create")), $"vm{n} disk 0 copy", mode);
            Overwrite(disk);
            AssertProgress(Repl.Run(Verb("replicate")), $"vm{n} disk 0 copy", mode);
            AssertProgress(Repl.Run(Verb("resync")), $"vm{n} disk 0 copy", mode);
            AssertProgress(Repl.Run(Verb("failover", "--kind", "test", "--out", _dir.File($"test{n}"))), $"vm{n} test failover copy 1", mode);
            AssertSilentSuccess(Repl.Run(Verb("failover", "cleanup", "--out", _dir.File($"test{n}"))));
            AssertProgress(Repl.Run(Verb("failover", "--kind", "planned", "--out", _dir.File($"dr{n}"), "--format", "raw")), $"vm{n} failover copy 1", mode);
            AssertSilentSuccess(Repl.Run(Verb("commit")));
            Overwrite(Path.Combine(_dir.File($"dr{n}"), $"vm{n}-disk-0.raw"));
            AssertProgress(Repl.Run(Verb("failback", "--mode", "minimize-downtime")), "failback copy 1", mode);
            AssertProgress(Repl.Run(Verb("reverse")), $"vm{n} disk 0 copy", mode);
        }
    }

    [Fact]
    public void On_a_terminal_an_upload_shows_a_live_bar_with_bytes()
    {
        string disk = _dir.File("d.raw");
        File.WriteAllBytes(disk, DiskKinds.ScatteredContent(16 << 20, 13));
        string command = $"dotnet '{RepoPaths.ReplDll}' upload '{disk}' --target '{_dir.File("site")}' --create";
        ExternalTool.Result result = ExternalTool.RunProgram(
            ExternalTool.Require("script"), ["-qfec", command, "/dev/null"], new Dictionary<string, string?> { ["TERM"] = "xterm-256color", ["COLUMNS"] = "100" });
        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
        string screen = AnsiEscape().Replace(result.StandardOutput, "");

        // Spectre.Console's bar: the step, the bar, the percentage and the bytes, then the result table below it.
        Match bar = Regex.Match(screen, @"upload\s+━+\s+100%\s+16\.0 MiB");
        Assert.True(bar.Success, $"no live bar in:\n{screen}");
        Assert.Contains("bytesUploaded", screen[bar.Index..], StringComparison.Ordinal);
        Assert.DoesNotContain("repl: upload", screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_a_terminal_an_interrupted_upload_leaves_its_bar_at_the_bytes_it_had_sent()
    {
        string disk = _dir.File("d.raw");
        byte[] content = new byte[16 << 20];
        new Random(14).NextBytes(content);
        File.WriteAllBytes(disk, content);

        // exec: the shell script(1) starts becomes repl itself, so script's one child is the process to interrupt.
        string command = $"exec dotnet '{RepoPaths.ReplDll}' upload '{disk}' --target '{_dir.File("site")}' --create --max-bytes-per-second 1MiB";
        var start = new ProcessStartInfo(ExternalTool.Require("script")) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "-qfec", command, "/dev/null" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TERM"] = "xterm-256color";
        start.Environment["COLUMNS"] = "100";
        using Process script = Process.Start(start)!;
        var output = new StringBuilder();
        // One release more when the output ends, so the wait below wakes to see it.
        using var changed = new SemaphoreSlim(0);
        Task reading = Task.Run(async () =>
        {
            char[] buffer = new char[4096];
            int read;
            while ((read = await script.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                }

                changed.Release();
            }

            changed.Release();
        });
        string Screen()
        {
            lock (output)
            {
                return AnsiEscape().Replace(output.ToString(), "");
            }
        }

        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            // Wait for the bar to show some bytes sent of the 16 MiB (it takes 16 s at 1 MiB/s), then interrupt.
            while (!Regex.IsMatch(Screen(), @"upload\s+━+\s+\d+%\s+[1-9][\d.]*/16\.0 MiB"))
            {
                Assert.False(reading.IsCompleted, $"the upload ended before its bar showed bytes sent:\n{Screen()}");
                await changed.WaitAsync(bound.Token);
            }

            string child = File.ReadAllText($"/proc/{script.Id}/task/{script.Id}/children").Trim();
            ExternalTool.RunChecked("kill", "-INT", child);
            await script.WaitForExitAsync(bound.Token);
            await reading;
        }
        finally
        {
            if (!script.HasExited)
            {
                script.Kill(entireProcessTree: true);
            }
        }

        string screen = Screen();
        Assert.True(script.ExitCode == 130, $"exited {script.ExitCode}:\n{screen}");
        Assert.Contains("interrupted by SIGINT", screen, StringComparison.Ordinal);

        // The last drawing of the bar still says how much of the 16 MiB was sent; a stopped bar drew "16.0 MiB" alone.
        Match last = Regex.Matches(screen, @"upload\s+━+\s+(\d+)%\s+(\S+)")[^1];
        Assert.True(last.Groups[2].Value.EndsWith("/16.0", StringComparison.Ordinal) && last.Groups[1].Value != "100", $"the interrupted bar reads '{last.Value}' in:\n{screen}");
    }

    public void Dispose() => _dir.Dispose();

    private static void AssertProgress(ExternalTool.Result result, string label, string mode)
    {
        Assert.True(result.ExitCode == 0, $"exited {result.ExitCode}: {result.StandardError}");
        if (mode.Length > 0)
        {
            Assert.True(result.StandardError.Length == 0, $"{mode} printed on standard error:\n{result.StandardError}");
            return;
        }

        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.All(lines, l => Assert.StartsWith("repl: ", l, StringComparison.Ordinal));
        Assert.True(
            lines.Any(l => l.StartsWith($"repl: {label} 100% (", StringComparison.Ordinal)),
            $"no finished '{label}' progress line in:\n{result.StandardError}");
    }

    private static void AssertSilentSuccess(ExternalTool.Result result)
    {
        Assert.True(result.ExitCode == 0, $"exited {result.ExitCode}: {result.StandardError}");
        Assert.Equal("", result.StandardError);
    }

    private static void Overwrite(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = 4096 * 33;
        file.Write(Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray());
    }

    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|[=>])")]
    private static partial Regex AnsiEscape();
}
