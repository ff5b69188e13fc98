using Replication.Core.Replication;

namespace Replication.Hosting.Plans;

/// <summary>
/// The part of a run's <see cref="RecoveryPlanRunOptions"/> that can be stored (everything but the delegates), kept on
/// the plan's job so that a restart resumes the run as it was asked.
/// </summary>
internal sealed record RecoveryPlanRunParameters(
    RecoveryPlanOperation Operation, bool ContinueOnFailure, int MaxParallelItems, string? OutputDirectory, string? PointId, FailbackMode FailbackMode)
{
    public static RecoveryPlanRunParameters From(RecoveryPlanRunOptions options) =>
        new(options.Operation, options.ContinueOnFailure, options.MaxParallelItems, options.OutputDirectory, options.PointId, options.FailbackMode);

    public RecoveryPlanRunOptions ToOptions() => new()
    {
        Operation = Operation,
        ContinueOnFailure = ContinueOnFailure,
        MaxParallelItems = MaxParallelItems,
        OutputDirectory = OutputDirectory,
        PointId = PointId,
        FailbackMode = FailbackMode,
    };
}
