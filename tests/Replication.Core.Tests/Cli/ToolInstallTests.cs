using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// The install line of the README: scripts/install-tool.sh packs repl into the repository's folder feed and installs
/// it as a .NET tool, and the installed command runs.
/// </summary>
public sealed class ToolInstallTests
{
    [Fact]
    public void The_install_script_packs_repl_into_the_folder_feed_and_installs_a_working_tool()
    {
        using var dir = new TempDirectory();
        string tools = dir.File("tools");
        ExternalTool.Result install = ExternalTool.RunProgram(
            "bash",
            [Path.Combine(RepoPaths.Root, "scripts", "install-tool.sh"), "--tool-path", tools],
            new Dictionary<string, string?> { ["REPL_PACK_NO_BUILD"] = "1", ["CONFIGURATION"] = RepoPaths.Configuration });
        install.EnsureSuccess("scripts/install-tool.sh");
        Assert.Contains("successfully installed", install.StandardOutput, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(RepoPaths.Root, "artifacts", "packages"), "Replication.Cli.*.nupkg"));

        string repl = Path.Combine(tools, "repl");
        Assert.True(File.Exists(repl), $"no {repl} after the install");
        string disk = dir.File("disk.vhdx");
        JsonElement created = ExternalTool.RunProgram(repl, ["disk", "create", disk, "--size", "8MiB", "--format", "vhdx", "--json"]).Json();
        Assert.Equal(8L << 20, created.GetProperty("virtualSize").GetInt64());
        Assert.Equal("vhdx", ExternalTool.RunProgram(repl, ["disk", "info", disk, "--json"]).Json().GetProperty("format").GetString());

        // Installing again replaces the installed copy instead of failing on it.
        ExternalTool.RunProgram(
            "bash",
            [Path.Combine(RepoPaths.Root, "scripts", "install-tool.sh"), "--tool-path", tools],
            new Dictionary<string, string?> { ["REPL_PACK_NO_BUILD"] = "1", ["CONFIGURATION"] = RepoPaths.Configuration }).EnsureSuccess("a second install");
    }
}
