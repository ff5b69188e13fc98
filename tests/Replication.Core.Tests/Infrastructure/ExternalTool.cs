using System.Diagnostics;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// Runs the independent implementations used as oracles (qemu-img, qemu-io, vhdiinfo). A missing tool fails the
/// test with a message saying how to install it: tests never skip silently.
/// </summary>
public static class ExternalTool
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError)
    {
        public Result EnsureSuccess(string what)
        {
            if (ExitCode != 0)
            {
                throw new Xunit.Sdk.XunitException($"{what} exited with {ExitCode}:\n{StandardOutput}\n{StandardError}");
            }

            return this;
        }

        /// <summary>The single JSON object the program printed; fails the test on a non-zero exit.</summary>
        public System.Text.Json.JsonElement Json()
        {
            Assert.True(ExitCode == 0, $"exited {ExitCode}: {StandardError}");
            using var doc = System.Text.Json.JsonDocument.Parse(StandardOutput);
            return doc.RootElement.Clone();
        }
    }

    /// <summary>Full path of a tool on PATH; fails the test when it is missing.</summary>
    public static string Require(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator))
        {
            string candidate = System.IO.Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new Xunit.Sdk.XunitException(
            $"'{tool}' is not installed. The test command installs it (apt-get install qemu-utils libvhdi-utils); run the README's test command.");
    }

    /// <summary>Runs a tool to completion (at most two minutes) and returns its exit code and output.</summary>
    public static Result Run(string tool, params string[] arguments) => RunProgram(Require(tool), arguments);

    /// <summary>Runs a program by path to completion (at most two minutes).</summary>
    public static Result RunProgram(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', arguments)} did not finish in two minutes.");
        }

        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a tool and fails the test when it exits non-zero.</summary>
    public static string RunChecked(string tool, params string[] arguments) =>
        Run(tool, arguments).EnsureSuccess($"{tool} {string.Join(' ', arguments)}").StandardOutput;
}
