using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>What a new user meets first: a mistyped verb, and asking for help.</summary>
public sealed class UsageTests
{
    [Theory]
    [InlineData("'uplaod' is not a repl command; did you mean 'upload'?", "uplaod", "disk.vhdx", "--target", "site")]
    [InlineData("'dwonload' is not a repl command; did you mean 'download'?", "dwonload")]
    [InlineData("'dsik' is not a repl command; did you mean 'disk'?", "dsik", "info", "x.vhdx")]
    [InlineData("'infoo' is not a repl disk command; did you mean 'info'?", "disk", "infoo", "x.vhdx")]
    [InlineData("'dumb' is not a repl hrl command; did you mean 'dump'?", "hrl", "dumb", "x.hrl")]
    [InlineData("'uplaod' is not a repl command; did you mean 'upload'?", "help", "uplaod")]
    public void An_unknown_verb_is_named_with_the_nearest_one_and_exits_2(string expected, params string[] args)
    {
        ExternalTool.Result result = Repl.Run(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("repl: " + expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_verb_like_nothing_known_lists_the_verbs_there_are()
    {
        ExternalTool.Result result = Repl.Run("frobnicate");
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("repl: 'frobnicate' is not a repl command (commands: disk, ", line, StringComparison.Ordinal);
        Assert.Contains("upload", line, StringComparison.Ordinal);
        Assert.Contains("hrl", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("help")]
    [InlineData("help", "disk")]
    [InlineData("help", "disk", "sync")]
    [InlineData("help", "hrl", "apply")]
    [InlineData("help", "upload")]
    public void Help_as_a_verb_prints_what_the_help_option_prints(params string[] args)
    {
        ExternalTool.Result asVerb = Repl.Run(args);
        ExternalTool.Result asOption = Repl.Run([.. args.Skip(1), "--help"]);
        Assert.Equal(0, asVerb.ExitCode);
        Assert.Equal(0, asOption.ExitCode);
        Assert.Contains("Usage:", asVerb.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(asOption.StandardOutput, asVerb.StandardOutput);
        Assert.Equal("", asVerb.StandardError);
    }
}
