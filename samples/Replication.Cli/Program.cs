using System.CommandLine;
using Replication.Cli;

var root = new RootCommand("repl: replicate virtual disks (raw, VHD, VHDX) to a recovery site and fail over to them.");
root.Subcommands.Add(DiskCommands.Build());
foreach (Command verb in TransferCommands.Build()) { root.Subcommands.Add(verb); }
root.Subcommands.Add(HrlCommands.Build());
root.Subcommands.Add(NbdCommands.Build());
ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    // The contract of every verb: a non-zero exit and one line on standard error, not a page of help.
    await Console.Error.WriteLineAsync($"repl: {parsed.Errors[0].Message.ReplaceLineEndings(" ")} (see 'repl --help')").ConfigureAwait(false);
    return 2;
}

return await parsed.InvokeAsync().ConfigureAwait(false);
