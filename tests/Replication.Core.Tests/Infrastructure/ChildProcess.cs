using System.Diagnostics;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// A .NET child process whose standard output is read line by line, which can be told to go on (a line on its standard
/// input) and which can be killed with SIGKILL.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process) => _process = process;

    /// <summary>The process id (to signal it).</summary>
    public int Id => _process.Id;

    public static ChildProcess StartDotnet(string dll, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A SIGKILLed runtime cannot remove its diagnostic pipes from /tmp; the children are not debugged, so open none.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        start.ArgumentList.Add(dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new ChildProcess(Process.Start(start)!);
    }

    /// <summary>The next line of standard output, or null at end of output.</summary>
    public string? ReadLine() => _process.StandardOutput.ReadLine();

    /// <summary>Writes a line to the child's standard input (a child that has exited is not an error).</summary>
    public void WriteLine(string line)
    {
        try
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }
        catch (IOException)
        {
            // The child has exited and closed its end.
        }
    }

    /// <summary>Kills the process (SIGKILL on Unix) and waits until it has exited.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }

        _process.WaitForExit();
    }

    /// <summary>Waits for exit (at most two minutes) and returns the exit code and standard error.</summary>
    public (int ExitCode, string StandardError) WaitForExit()
    {
        string stderr = _process.StandardError.ReadToEnd();
        if (!_process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            Kill();
            throw new Xunit.Sdk.XunitException("The child process did not exit within two minutes.");
        }

        return (_process.ExitCode, stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }
}
