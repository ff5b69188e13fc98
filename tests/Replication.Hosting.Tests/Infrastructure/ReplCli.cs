using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>Runs the built <c>repl</c> CLI as a user would: to completion, or in the background with its output lines awaited.</summary>
public static class ReplCli
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>The built CLI beside the repository's other outputs.</summary>
    public static string Dll { get; } = Path.Combine(Root(), "samples", "Replication.Cli", "bin",
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug", "net10.0", "repl.dll");

    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public JsonElement Json()
        {
            Assert.True(ExitCode == 0, $"exit {ExitCode}: {Error}");
            using JsonDocument document = JsonDocument.Parse(Output);
            return document.RootElement.Clone();
        }
    }

    /// <summary>Runs to completion (bounded: a hung command fails the test).</summary>
    public static Result Run(params string[] arguments)
    {
        using Process process = Start(arguments);
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"repl {string.Join(' ', arguments)} did not finish within 3 minutes");
        }

        return new Result(process.ExitCode, output.Result, error.Result);
    }

    public static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(Dll), $"{Dll} is not built; build the solution first.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return Process.Start(start)!;
    }

    public static void Signal(Process process, int signal) => Assert.Equal(0, Kill(process.Id, signal));

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static string Root()
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

/// <summary>A background <c>repl</c> whose standard output (and error) lines a test waits for, as events.</summary>
public sealed class RunningRepl : IDisposable
{
    private readonly Process _process;
    private readonly System.Threading.Channels.Channel<string> _lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly List<string> _seen = [];
    private readonly Task _pump;

    public RunningRepl(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        _process = ReplCli.Start(arguments, environment);
        _pump = Task.WhenAll(PumpAsync(_process.StandardOutput), PumpAsync(_process.StandardError))
            .ContinueWith(_ => _lines.Writer.TryComplete(), TaskScheduler.Default);
    }

    public int Id => _process.Id;

    /// <summary>Every line read so far.</summary>
    public string Transcript
    {
        get
        {
            lock (_seen)
            {
                return string.Join('\n', _seen);
            }
        }
    }

    /// <summary>The next line that satisfies <paramref name="match"/> (bounded by <paramref name="minutes"/> of wall time so that a broken host fails instead of hanging).</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, int minutes = 3)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
        try
        {
            while (await _lines.Reader.WaitToReadAsync(bound.Token))
            {
                while (_lines.Reader.TryRead(out string? line))
                {
                    if (match(line))
                    {
                        return line;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        throw new Xunit.Sdk.XunitException($"no such line; the process printed:\n{Transcript}");
    }

    public void Signal(int signal) => ReplCli.Signal(_process, signal);

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        await _pump.WaitAsync(TimeSpan.FromMinutes(1));
        return _process.ExitCode;
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_seen)
            {
                _seen.Add(line);
            }

            _lines.Writer.TryWrite(line);
        }
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
