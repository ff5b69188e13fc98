using System.CommandLine;
using System.Runtime.InteropServices;
using Replication.Core;

namespace Replication.Cli;

/// <summary>Shared plumbing of every verb: the --json option, the one-line error contract and interruption.</summary>
internal static class CliCommand
{
    /// <summary>Exit code of a verb stopped by SIGINT (128 + 2).</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>Exit code of a verb stopped by SIGTERM (128 + 15).</summary>
    public const int TerminatedExitCode = 143;

    public static readonly Option<bool> Json = new("--json") { Description = "Print one JSON object on standard output (and no progress)." };

    public static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "No progress on standard error; the result and errors still print." };

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "On failure, print the exception's stack trace after the one-line error." };

    /// <summary>The signal that stopped the running verb, or null.</summary>
    public static PosixSignal? Signal { get; set; }

    /// <summary>
    /// What the running verb has saved that lets the same command resume (set by verbs that keep a checkpoint), said
    /// when a signal stops it.
    /// </summary>
    public static string? ResumeHint { get; set; }

    /// <summary>Parses a size such as 512, 64KiB or 1GiB.</summary>
    public static Option<long> SizeOption(string name, string description, bool required) => new(name)
    {
        Description = description,
        Required = required,
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
            if (SizeParser.TryParse(text, out long bytes))
            {
                return bytes;
            }

            result.AddError($"'{text}' is not a size (examples: 512, 64KiB, 1GiB).");
            return 0;
        },
    };

    /// <summary>
    /// Runs a verb: exit code 0 on success; on an expected failure one line on standard error and exit code 1 (with
    /// --verbose, the stack trace follows it); 130 or 143 when SIGINT or SIGTERM stopped it. Progress is shown while it
    /// runs (<see cref="ProgressDisplay"/>) and stopped before the result or the error is printed.
    /// </summary>
    public static void SetHandler(this Command command, Func<ParseResult, CancellationToken, Task> action)
    {
        command.Options.Add(Json);
        command.Options.Add(Quiet);
        command.Options.Add(Verbose);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            ProgressDisplay.Start(ProgressDisplay.ModeFor(parseResult));
            try
            {
                await action(parseResult, cancellationToken).ConfigureAwait(false);
                await ProgressDisplay.StopAsync().ConfigureAwait(false);
                return 0;
            }
            catch (OperationCanceledException ex) when (Signal is { } signal)
            {
                string hint = ResumeHint ?? "nothing was left half done";
                return await FailAsync(parseResult, ex, $"interrupted by {(signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT")}; {hint}.", signal == PosixSignal.SIGTERM ? TerminatedExitCode : InterruptedExitCode).ConfigureAwait(false);
            }
            catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceHeld)
            {
                return await FailAsync(parseResult, ex, $"{OneLine(ex)} Wait for it, or, if that writer is gone, run again with --break-fence.", 1).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ReplicationException or ArgumentException or IOException or NotSupportedException
                                           or UnauthorizedAccessException or OperationCanceledException)
            {
                return await FailAsync(parseResult, ex, OneLine(ex), 1).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A failure nobody expected is still one line (a bug to report, with the trace --verbose prints).
                return await FailAsync(parseResult, ex, $"unexpected {ex.GetType().Name}: {OneLine(ex)} (run with --verbose for the stack trace, and report it)", 1).ConfigureAwait(false);
            }
        });
    }

    private static async Task<int> FailAsync(ParseResult parse, Exception ex, string line, int exitCode)
    {
        await ProgressDisplay.StopAsync().ConfigureAwait(false);
        await Console.Error.WriteLineAsync($"repl: {line}").ConfigureAwait(false);
        if (parse.GetValue(Verbose))
        {
            await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
        }

        return exitCode;
    }

    private static string OneLine(Exception ex)
    {
        string message = ex.Message;
        if (ex is ArgumentException { ParamName: { } name } && message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal))
        {
            message = message[..^$" (Parameter '{name}')".Length];
        }

        return message.ReplaceLineEndings(" ");
    }
}
