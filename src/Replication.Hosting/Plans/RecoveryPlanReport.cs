using System.Globalization;
using System.Text;
using Replication.Hosting.Jobs;

namespace Replication.Hosting.Plans;

/// <summary>What a recovery plan run did: each group, its actions and items, and what failed.</summary>
public sealed class RecoveryPlanReport
{
    /// <summary>The plan.</summary>
    public required string Plan { get; init; }

    /// <summary>What the run did.</summary>
    public required RecoveryPlanOperation Operation { get; init; }

    /// <summary>The plan's job.</summary>
    public required string JobId { get; init; }

    /// <summary>The groups, in plan order (those the run did not reach are <see cref="RecoveryPlanStepState.NotRun"/>).</summary>
    public required IReadOnlyList<RecoveryPlanGroupReport> Groups { get; init; }

    /// <summary>True when every action and item succeeded.</summary>
    public bool Succeeded => Groups.All(g => g.State == RecoveryPlanStepState.Succeeded);

    /// <summary>The failed items and actions, one line each; empty when the run succeeded.</summary>
    public IReadOnlyList<string> Failures =>
        [.. Groups.SelectMany(g => g.Actions.Where(a => a.State == RecoveryPlanStepState.Failed).Select(a => $"group {g.Group}: {(a.IsPre ? "pre" : "post")} action '{a.Name}' failed: {a.Error}")
            .Concat(g.Items.Where(i => i.State == RecoveryPlanStepState.Failed).Select(i => $"group {g.Group}: item '{i.Item}' failed ({i.Error!.Category}, {i.Error.Code}): {i.Error.Message}")))];

    /// <summary>One paragraph for an operator: the outcome, what failed, and what did not run.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        string operation = Operation.ToString();
        if (Succeeded)
        {
            text.Append(CultureInfo.InvariantCulture, $"Recovery plan '{Plan}' ({operation}) succeeded: {Groups.Sum(g => g.Items.Count)} items in {Groups.Count} groups.");
            return text.ToString();
        }

        text.Append(CultureInfo.InvariantCulture, $"Recovery plan '{Plan}' ({operation}) failed.");
        foreach (string failure in Failures)
        {
            text.Append(' ').Append(failure).Append('.');
        }

        int[] notRun = [.. Groups.Where(g => g.State == RecoveryPlanStepState.NotRun).Select(g => g.Group)];
        if (notRun.Length > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" Not run: group{(notRun.Length > 1 ? "s" : "")} {string.Join(", ", notRun)}.");
        }

        return text.ToString();
    }
}

/// <summary>Where a group, item or action of a plan run ended.</summary>
public enum RecoveryPlanStepState
{
    /// <summary>The run stopped before it.</summary>
    NotRun,

    /// <summary>It succeeded.</summary>
    Succeeded,

    /// <summary>It failed (a group: one of its items or actions did).</summary>
    Failed,
}

/// <summary>One group of a plan run.</summary>
/// <param name="Group">The group, from 1.</param>
/// <param name="State">How it ended.</param>
/// <param name="Actions">Its actions, pre then post, in order.</param>
/// <param name="Items">Its items, in plan order.</param>
public sealed record RecoveryPlanGroupReport(int Group, RecoveryPlanStepState State, IReadOnlyList<RecoveryPlanActionReport> Actions, IReadOnlyList<RecoveryPlanItemReport> Items);

/// <summary>One item of a plan run.</summary>
/// <param name="Item">The item.</param>
/// <param name="State">How it ended.</param>
/// <param name="JobId">Its job, or null when it did not run.</param>
/// <param name="Error">Why it failed, or null.</param>
public sealed record RecoveryPlanItemReport(string Item, RecoveryPlanStepState State, string? JobId, JobError? Error);

/// <summary>One pre or post action of a plan run.</summary>
/// <param name="Name">The action.</param>
/// <param name="IsPre">True for a pre action.</param>
/// <param name="State">How it ended.</param>
/// <param name="Error">Why it failed, or null.</param>
public sealed record RecoveryPlanActionReport(string Name, bool IsPre, RecoveryPlanStepState State, string? Error);
