using System.CommandLine;
using Replication.Core.Diff;
using Replication.Core.Replication;
using Replication.Core.Transfer;
using Spectre.Console;

namespace Replication.Cli;

/// <summary>
/// Progress of the running verb on standard error: a live bar per step (bytes done of the total, throughput, time left)
/// when standard error is a terminal; plain lines at most once a second per step (<see cref="ProgressLines"/>) when it
/// is not (a log, a pipe, CI); nothing with --json or --quiet. One per process: the verb's handler starts it and the
/// result or the error line stops it first, so a bar never mixes with what follows.
/// </summary>
internal sealed class ProgressDisplay
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Step> _steps = [];
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _live;
    private Task? _rendering;
    private ProgressContext? _context;
    private bool _stopped;

    private ProgressDisplay(bool live) => _live = live;

    /// <summary>How progress is shown.</summary>
    public enum Mode
    {
        /// <summary>Not at all (--json, --quiet).</summary>
        None,

        /// <summary>Plain lines on standard error, at most once a second per step.</summary>
        Lines,

        /// <summary>A live bar per step on the terminal.</summary>
        Live,
    }

    /// <summary>The display of the running verb (none until a verb starts one).</summary>
    public static ProgressDisplay? Current { get; private set; }

    /// <summary>The mode the options and standard error call for.</summary>
    public static Mode ModeFor(ParseResult parse) =>
        parse.GetValue(CliCommand.Json) || parse.GetValue(CliCommand.Quiet) ? Mode.None
        : Console.IsErrorRedirected ? Mode.Lines
        : Mode.Live;

    /// <summary>Starts the display of the running verb in <paramref name="mode"/>.</summary>
    public static void Start(Mode mode) => Current = mode == Mode.None ? null : new ProgressDisplay(mode == Mode.Live);

    /// <summary>Stops the display and waits for its last refresh; safe to call more than once.</summary>
    public static void Stop() => StopAsync().GetAwaiter().GetResult();

    /// <summary>Stops the display (the last state of each bar stays on the screen, an unfinished one with the bytes it had done); safe to call more than once.</summary>
    public static async Task StopAsync()
    {
        if (Current is { } display)
        {
            await display.StopCoreAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Progress of a seed or resync of one disk, shown as <paramref name="label"/>; null when nothing is shown.</summary>
    public static IProgress<SyncProgress>? Sync(string label) => Current is { } d ? new Relay<SyncProgress>(v =>
    {
        // Hashing and comparing come first and have no total yet: the bar starts with the copy.
        if (v.Phase >= SyncPhase.Copying)
        {
            d.Update(label, v.BytesCopied, v.BytesToCopy, v.BytesPerSecond, v.EstimatedRemaining, v.BytesSent, v.BytesZeroed, v.CheckpointedUpTo, v.Phase >= SyncPhase.Finalizing);
        }
    }) : null;

    /// <summary>Progress of a copy (a conversion) shown as <paramref name="label"/>; null when nothing is shown.</summary>
    public static IProgress<TransferProgress>? Transfer(string label) => Current is { } d
        ? new Relay<TransferProgress>(v => d.Update(label, v.BytesDone, v.BytesTotal, v.BytesPerSecond, v.EstimatedRemaining, v.BytesSent, v.BytesZeroed, v.CheckpointedUpTo, false))
        : null;

    /// <summary>Progress of a manifest build shown as <paramref name="label"/>; null when nothing is shown.</summary>
    public static IProgress<ManifestProgress>? Manifest(string label, TimeProvider time)
    {
        if (Current is not { } d)
        {
            return null;
        }

        long started = time.GetTimestamp();
        return new Relay<ManifestProgress>(v =>
        {
            double seconds = time.GetElapsedTime(started).TotalSeconds;
            double rate = seconds > 0 ? v.BytesProcessed / seconds : 0;
            TimeSpan? left = rate > 0 ? TimeSpan.FromSeconds((v.TotalBytes - v.BytesProcessed) / rate) : null;
            d.Update(label, v.BytesProcessed, v.TotalBytes, rate, left, 0, 0, 0, false);
        });
    }

    /// <summary>Progress of the engine's long steps, one bar per item, disk and step; null when nothing is shown.</summary>
    public static IProgress<ReplicationProgress>? Engine() => Current is { } d
        ? new Relay<ReplicationProgress>(v => d.Update(
            $"{v.Item} disk {v.Disk} {v.Step}", v.BytesDone, v.BytesTotal, v.BytesPerSecond, v.EstimatedRemaining, v.BytesSent, v.BytesZeroed, v.CheckpointedUpTo, false))
        : null;

    private void Update(string label, long done, long total, double rate, TimeSpan? left, long sent, long zeroed, long checkpoint, bool finished)
    {
        // A step with nothing to do (a cycle that applies an empty log) gets no bar: "0% 1 byte" would say nothing true.
        if (_live && total <= 0)
        {
            return;
        }

        Step step;
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            if (!_steps.TryGetValue(label, out step!))
            {
                step = new Step(_live ? null : new ProgressLines(label, Console.Error, TimeProvider.System));
                _steps[label] = step;
                if (_live)
                {
                    _rendering ??= StartRendering();
                }
            }

            if (_live && step.Bar is null && _context is { } context)
            {
                step.Bar = context.AddTask(Markup.Escape(label), autoStart: true, maxValue: Math.Max(total, 1));
            }

            if (step.Bar is { } bar)
            {
                bar.MaxValue = Math.Max(total, 1);
                bar.Value = Math.Min(done, bar.MaxValue);
            }
            else
            {
                step.Latest = (done, total);
            }
        }

        step.Lines?.Write(done, total, rate, left, sent, zeroed, checkpoint, finished);
    }

    /// <summary>Starts Spectre.Console's live rendering on standard error; bars are added once its context exists.</summary>
    private Task StartRendering()
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Ansi = AnsiSupport.Detect,
            Interactive = InteractionSupport.Yes,
        });
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new DownloadedColumn { Base = FileSizeBase.Binary },
                new TransferSpeedColumn { Base = FileSizeBase.Binary },
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                lock (_lock)
                {
                    _context = context;
                    foreach ((string label, Step step) in _steps)
                    {
                        step.Bar = context.AddTask(Markup.Escape(label), autoStart: true, maxValue: Math.Max(step.Latest.Total, 1));
                        step.Bar.Value = Math.Min(step.Latest.Done, step.Bar.MaxValue);
                    }
                }

                await _done.Task.ConfigureAwait(false);
            });
    }

    private async Task StopCoreAsync()
    {
        Task? rendering;
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            // The bars are left as they are, not stopped: Spectre.Console draws a stopped bar as a finished one (its
            // total alone where the bytes done stand), which after an interruption would claim a copy it did not make.
            _stopped = true;
            rendering = _rendering;
        }

        _done.TrySetResult();
        if (rendering is not null)
        {
            // The rendering ends when its delegate returns, after a last refresh of every bar.
            await rendering.ConfigureAwait(false);
        }
    }

    private sealed class Step(ProgressLines? lines)
    {
        public ProgressLines? Lines { get; } = lines;

        public ProgressTask? Bar { get; set; }

        public (long Done, long Total) Latest { get; set; }
    }

    private sealed class Relay<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
