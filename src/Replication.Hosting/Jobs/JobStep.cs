namespace Replication.Hosting.Jobs;

/// <summary>A durable step a job completed, as the engine reported it.</summary>
/// <param name="Name">The step (<c>rotated</c>, <c>shipped disk 0</c>, <c>resumed</c>…).</param>
/// <param name="At">When it completed.</param>
public sealed record JobStep(string Name, DateTimeOffset At);
