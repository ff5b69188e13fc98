namespace Replication.Core.Tests.Infrastructure;

/// <summary>Finds the repository's build outputs from the test assembly's own location.</summary>
public static class RepoPaths
{
    private static readonly string TestBin = AppContext.BaseDirectory;

    /// <summary>The repository root (the folder holding Replication.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The build configuration the tests were built with (Debug or Release).</summary>
    public static string Configuration { get; } =
        TestBin.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>The built <c>repl</c> CLI (run with <c>dotnet</c>).</summary>
    public static string ReplDll => Path.Combine(Root, "samples", "Replication.Cli", "bin", Configuration, "net10.0", "repl.dll");

    /// <summary>The crash-test child program, copied beside the tests.</summary>
    public static string TestChildDll => Path.Combine(TestBin, "Replication.TestChild.dll");

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(TestBin); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Replication.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Replication.sln above {TestBin}.");
    }
}
