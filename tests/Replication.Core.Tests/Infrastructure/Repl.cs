namespace Replication.Core.Tests.Infrastructure;

/// <summary>Runs the built <c>repl</c> CLI as a user would, capturing its exit code and output.</summary>
public static class Repl
{
    public static ExternalTool.Result Run(params string[] arguments)
    {
        Assert.True(File.Exists(RepoPaths.ReplDll), $"{RepoPaths.ReplDll} is not built; build the solution first.");
        return ExternalTool.RunProgram("dotnet", [RepoPaths.ReplDll, .. arguments]);
    }
}
