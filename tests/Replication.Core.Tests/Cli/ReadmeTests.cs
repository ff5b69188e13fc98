using System.Text.RegularExpressions;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>The README as a new user meets it on a fresh clone: its links stay inside the repository and its examples run.</summary>
public sealed partial class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));

    [Fact]
    public void Every_link_points_inside_the_repository()
    {
        Assert.DoesNotContain("../", Readme, StringComparison.Ordinal);
        foreach (Match link in MarkdownLink().Matches(Readme))
        {
            string target = link.Groups[1].Value;
            if (target.StartsWith("https://", StringComparison.Ordinal) || target.StartsWith('#'))
            {
                continue;
            }

            string path = Path.GetFullPath(Path.Combine(RepoPaths.Root, target.Split('#')[0]));
            Assert.True(path.StartsWith(RepoPaths.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal), $"{target} leaves the repository");
            Assert.True(File.Exists(path) || Directory.Exists(path), $"{target} does not exist in the repository");
        }
    }

    [Fact]
    public void Every_container_named_in_an_example_is_a_name_azure_accepts()
    {
        MatchCollection containers = ContainerOption().Matches(Readme);
        Assert.NotEmpty(containers);
        Assert.All(containers, c => Assert.Matches(AzureContainerName(), c.Groups[1].Value));
    }

    [Theory]
    [InlineData("## The `repl` command-line tool", true)]
    [InlineData("## Protecting a machine: replicate, fail over, fail back", false)]
    public void The_command_line_examples_run_as_written_in_order(string heading, bool startsWithSetup)
    {
        int start = Readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"the README has no section '{heading}'");
        string section = Readme[start..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        List<string> blocks = [.. ShellBlock().Matches(section).Select(m => m.Groups[1].Value)];
        Assert.NotEmpty(blocks);

        if (startsWithSetup)
        {
            // The first block builds the tool and names it 'repl'; the test uses the build it runs on, under the same name.
            Assert.Contains("alias repl=\"dotnet $PWD/samples/Replication.Cli/bin/Release/net10.0/repl.dll\"", blocks[0], StringComparison.Ordinal);
            Assert.True(blocks.Count >= 3, "the examples are missing");
            blocks.RemoveAt(0);
        }

        // Each section's examples run in order, in an empty directory of their own.
        using var dir = new TempDirectory();
        string script = dir.File("examples.sh");
        string[] prelude =
        [
            "set -euo pipefail",
            $"cd '{dir.Path}'",
            $"export AZURE_STORAGE_CONNECTION_STRING='{Azurite.ConnectionString}'",
            $"repl() {{ dotnet '{RepoPaths.ReplDll}' \"$@\"; }}",
        ];
        File.WriteAllText(script, string.Join('\n', [.. prelude, .. blocks]));
        ExternalTool.Result result = ExternalTool.Run("bash", script);
        Assert.True(result.ExitCode == 0, $"an example failed (exit {result.ExitCode}):\n{result.StandardError}");
    }

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"--container\s+(\S+)")]
    private static partial Regex ContainerOption();

    // 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
    [GeneratedRegex(@"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex AzureContainerName();

    [GeneratedRegex(@"```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
}
