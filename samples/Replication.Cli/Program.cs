using System.CommandLine;
using System.Runtime.InteropServices;
using Replication.Cli;

var root = new RootCommand(
    "repl: replicate virtual disks (raw, VHD, VHDX) to a recovery site and fail over to them. 'repl help <command>' shows a command's options and an example.\n\n" +
    "Exit codes: 0 success, 1 error (one line on standard error; --verbose adds the stack trace), 2 usage (unknown verb or option, bad value), " +
    "130 interrupted by SIGINT, 143 terminated by SIGTERM (the checkpoint is saved: run the same command again to resume).");
root.Subcommands.Add(DiskCommands.Build());
foreach (Command verb in TransferCommands.Build()) { root.Subcommands.Add(verb); }
root.Subcommands.Add(HrlCommands.Build());
root.Subcommands.Add(NbdCommands.Build());
foreach (Command verb in ProtectionCommands.Build()) { root.Subcommands.Add(verb); }
foreach (Command verb in FailoverCommands.Build()) { root.Subcommands.Add(verb); }
foreach (Command verb in HostingCommands.Build()) { root.Subcommands.Add(verb); }
root.Subcommands.Add(DemoCommand.Build());
Examples.AddTo(root);

// 'repl help [command…]' is 'repl [command…] --help'.
string[] arguments = args is ["help", .. var named] ? [.. named, "--help"] : args;
if (UnknownVerb.Describe(root, arguments) is { } unknown)
{
    await Console.Error.WriteLineAsync($"repl: {unknown} (see 'repl --help')").ConfigureAwait(false);
    return 2;
}

ParseResult parsed = root.Parse(arguments);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    // The contract of every verb: a non-zero exit and one line on standard error, not a page of help.
    await Console.Error.WriteLineAsync($"repl: {parsed.Errors[0].Message.ReplaceLineEndings(" ")} (see 'repl --help')").ConfigureAwait(false);
    return 2;
}

// SIGINT and SIGTERM cancel the running verb, which saves its checkpoint and releases its fence before the process
// exits (130 or 143); System.CommandLine's own handling is off so that nothing is cut short.
using var interrupt = new CancellationTokenSource();
using PosixSignalRegistration onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
using PosixSignalRegistration onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupt.Token).ConfigureAwait(false);

void Interrupted(PosixSignalContext context)
{
    context.Cancel = true;
    CliCommand.Signal = context.Signal;
    interrupt.Cancel();
}
