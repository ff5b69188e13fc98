using Replication.Core.Replication;

namespace Replication.Hosting.Plans;

/// <summary>How one run of a recovery plan goes: what it does, what its named actions do, and what happens on a failure.</summary>
public sealed class RecoveryPlanRunOptions
{
    /// <summary>What the run does to each item.</summary>
    public required RecoveryPlanOperation Operation { get; init; }

    /// <summary>
    /// False (the default): the first group with a failed item or action ends the run — its post actions and the groups
    /// after it do not run. True: every group runs, and the report lists what failed.
    /// </summary>
    public bool ContinueOnFailure { get; init; }

    /// <summary>Items of a group running at once, 1 to 1000. Default 100.</summary>
    public int MaxParallelItems { get; init; } = 100;

    /// <summary>
    /// What each action name of the plan does. A plan naming an action missing here is refused before anything runs.
    /// The delegate's failure (any exception) fails its group.
    /// </summary>
    public IReadOnlyDictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>> Actions { get; init; } =
        new Dictionary<string, Func<RecoveryPlanActionContext, CancellationToken, Task>>(StringComparer.Ordinal);

    /// <summary>Where an item's recovered machine goes (failover and test cleanup); by default a folder per item under <see cref="OutputDirectory"/>.</summary>
    public Func<string, IRecoveredMachineOutput>? Output { get; init; }

    /// <summary>The folder holding a folder per item's recovered machine when <see cref="Output"/> is null.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>The point of an unplanned or test failover; null for each item's newest.</summary>
    public string? PointId { get; init; }

    /// <summary>Shuts an item's source down before a planned failover's final cycle (the item's name); null when nothing runs it.</summary>
    public Func<string, CancellationToken, ValueTask>? ShutdownSource { get; init; }

    /// <summary>Stops an item's recovered machine before a failback copies it (the item's name); null when nothing runs it.</summary>
    public Func<string, CancellationToken, ValueTask>? StopRecovered { get; init; }

    /// <summary>How a failback copies. Default: minimise downtime.</summary>
    public FailbackMode FailbackMode { get; init; } = FailbackMode.MinimizeDowntime;

    /// <summary>The output for <paramref name="item"/>.</summary>
    /// <exception cref="InvalidOperationException">Neither <see cref="Output"/> nor <see cref="OutputDirectory"/> is set.</exception>
    public IRecoveredMachineOutput OutputFor(string item) =>
        Output?.Invoke(item)
        ?? (OutputDirectory is { } directory
            ? new DiskFileOutput(Path.Combine(directory, item))
            : throw new InvalidOperationException($"Recovery plan options set neither Output nor OutputDirectory: where does '{item}' fail over to?"));
}

/// <summary>What a pre or post action is told.</summary>
/// <param name="Plan">The plan's name.</param>
/// <param name="Operation">What the run does.</param>
/// <param name="Group">The group, from 1.</param>
/// <param name="Action">The action's name.</param>
/// <param name="IsPre">True before the group's items, false after.</param>
/// <param name="Items">The group's items.</param>
public sealed record RecoveryPlanActionContext(string Plan, RecoveryPlanOperation Operation, int Group, string Action, bool IsPre, IReadOnlyList<string> Items);
