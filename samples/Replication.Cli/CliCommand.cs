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

    public static readonly Option<bool> Json = new("--json") { Description = "Print one JSON object on standard output." };

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
    /// Runs a verb: exit code 0 on success; on an expected failure one line on standard error and exit code 1.
    /// </summary>
    public static void SetHandler(this Command command, Func<ParseResult, CancellationToken, Task> action)
    {
        command.Options.Add(Json);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                await action(parseResult, cancellationToken).ConfigureAwait(false);
                return 0;
            }
            catch (OperationCanceledException) when (Signal is { } signal)
            {
                string hint = ResumeHint ?? "nothing was left half done";
                await Console.Error.WriteLineAsync($"repl: interrupted by {(signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT")}; {hint}.").ConfigureAwait(false);
                return signal == PosixSignal.SIGTERM ? TerminatedExitCode : InterruptedExitCode;
            }
            catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceHeld)
            {
                await Console.Error.WriteLineAsync($"repl: {OneLine(ex)} Wait for it, or, if that writer is gone, run again with --break-fence.").ConfigureAwait(false);
                return 1;
            }
            catch (Exception ex) when (ex is ReplicationException or ArgumentException or IOException or NotSupportedException
                                           or UnauthorizedAccessException or OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"repl: {OneLine(ex)}").ConfigureAwait(false);
                return 1;
            }
        });
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
