using System.Diagnostics;
using System.Text.Json;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>Runs the built <c>repl</c> CLI as a user would, capturing its exit code and output.</summary>
public static class Repl
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError)
    {
        /// <summary>The single JSON object printed with --json; fails the test on a non-zero exit.</summary>
        public JsonElement Json()
        {
            Assert.True(ExitCode == 0, $"repl exited {ExitCode}: {StandardError}");
            using JsonDocument doc = JsonDocument.Parse(StandardOutput);
            return doc.RootElement.Clone();
        }
    }

    public static Result Run(params string[] arguments)
    {
        Assert.True(File.Exists(RepoPaths.ReplDll), $"{RepoPaths.ReplDll} is not built; build the solution first.");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(RepoPaths.ReplDll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"repl {string.Join(' ', arguments)} did not finish in two minutes.");
        }

        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
