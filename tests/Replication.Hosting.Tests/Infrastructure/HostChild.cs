using System.Diagnostics;
using System.Globalization;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>The host child process (tests/Replication.Hosting.TestChild) on a clock the test drives.</summary>
public sealed class HostChild : IDisposable
{
    private readonly Process _process;
    private readonly System.Threading.Channels.Channel<string> _lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly List<string> _seen = [];
    private readonly Action<string>? _onLine;
    private readonly Task _pumps;
    private bool _disposed;

    public HostChild(string folder, DateTimeOffset start, string stopAt, Action<string>? onLine = null, params string[] cluster)
    {
        _onLine = onLine;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // A SIGKILLed runtime cannot remove its diagnostic pipes from /tmp; the hosts are not debugged, so open none.
        info.Environment["DOTNET_EnableDiagnostics"] = "0";
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Replication.Hosting.TestChild.dll"));
        info.ArgumentList.Add(folder);
        info.ArgumentList.Add(start.ToString("O", CultureInfo.InvariantCulture));
        info.ArgumentList.Add(stopAt);
        foreach (string argument in cluster)
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info)!;
        _pumps = Task.WhenAll(PumpAsync(_process.StandardOutput), PumpAsync(_process.StandardError));
    }

    public void Send(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
    }

    public Task<string> WaitForAsync(string line) => WaitForAsync(l => l == line);

    /// <summary>Every line read so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }
    }

    /// <summary>The next line that matches (a minute of wall time bounds a child that broke, so the test fails instead of hanging).</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, int minutes = 2)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
        try
        {
            while (true)
            {
                string line = await _lines.Reader.ReadAsync(bound.Token);
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            lock (_seen)
            {
                throw new Xunit.Sdk.XunitException($"the child never printed the line awaited; it printed:\n{string.Join('\n', _seen)}");
            }
        }
    }

    public void Kill()
    {
        _process.Kill(entireProcessTree: true); // SIGKILL
        _process.WaitForExit();
    }

    public int WaitForExit()
    {
        Assert.True(_process.WaitForExit(TimeSpan.FromMinutes(1)), "the child did not exit");
        Assert.True(_pumps.Wait(TimeSpan.FromMinutes(1)), "the child's output did not end");
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

            _onLine?.Invoke(line);
            _lines.Writer.TryWrite(line);
        }
    }

    /// <summary>Kills the child if it still runs; harmless to repeat.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
