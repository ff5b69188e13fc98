namespace Replication.Hosting.Plans;

/// <summary>
/// A named, ordered list of groups of items: the items of a group fail over in parallel, the groups one after another,
/// each group with actions run before and after it. Actions are named; the embedding product supplies what each name
/// does (a delegate, or a command for the CLI), so a plan is plain data the store can keep.
/// </summary>
public sealed class RecoveryPlan
{
    /// <summary>The most items a plan may hold.</summary>
    public const int MaxItems = 1000;

    /// <summary>The plan's name.</summary>
    public required string Name { get; init; }

    /// <summary>The groups, in the order they run.</summary>
    public required IList<RecoveryPlanGroup> Groups { get; init; }

    /// <summary>Every problem with the plan, each naming its group or item; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
        {
            problems.Add("A recovery plan needs a name.");
        }

        if (Groups is null || Groups.Count == 0)
        {
            problems.Add($"Recovery plan '{Name}' has no group.");
            return problems;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int g = 0; g < Groups.Count; g++)
        {
            RecoveryPlanGroup group = Groups[g];
            if (group.Items.Count == 0)
            {
                problems.Add($"Recovery plan '{Name}' group {g + 1} has no item.");
            }

            foreach (string item in group.Items)
            {
                if (!seen.Add(item))
                {
                    problems.Add($"Recovery plan '{Name}' names item '{item}' twice (group {g + 1}).");
                }
            }
        }

        if (seen.Count > MaxItems)
        {
            problems.Add($"Recovery plan '{Name}' has {seen.Count} items; at most {MaxItems}.");
        }

        return problems;
    }
}

/// <summary>One group of a recovery plan.</summary>
public sealed class RecoveryPlanGroup
{
    /// <summary>The items, which fail over in parallel.</summary>
    public IList<string> Items { get; init; } = [];

    /// <summary>Named actions run, in order, before the group's items.</summary>
    public IList<string> PreActions { get; init; } = [];

    /// <summary>Named actions run, in order, after the group's items all succeeded.</summary>
    public IList<string> PostActions { get; init; } = [];
}
