using System.CommandLine;
using Replication.Core.Replication;

namespace Replication.Cli;

/// <summary>Progress lines per item, disk and step (nothing with --json).</summary>
internal sealed class EngineProgress(bool json) : IProgress<ReplicationProgress>
{
    private readonly Dictionary<(string, int, string), ProgressLines> _lines = [];

    public static EngineProgress? For(ParseResult parse) => parse.GetValue(CliCommand.Json) ? null : new EngineProgress(false);

    public void Report(ReplicationProgress value)
    {
        ProgressLines? lines;
        lock (_lines)
        {
            if (!_lines.TryGetValue((value.Item, value.Disk, value.Step), out lines))
            {
                lines = ProgressLines.For($"{value.Item} disk {value.Disk} {value.Step}", json)!;
                _lines[(value.Item, value.Disk, value.Step)] = lines;
            }
        }

        lines.Write(value.BytesDone, value.BytesTotal, value.BytesPerSecond, value.EstimatedRemaining, value.BytesSent, value.BytesZeroed, value.CheckpointedUpTo);
    }
}
