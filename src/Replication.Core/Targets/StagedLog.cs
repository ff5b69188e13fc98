namespace Replication.Core.Targets;

/// <summary>A sealed log held in a target's staging area.</summary>
/// <param name="Name">The name it was put under.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Hash">Its XxHash128, checked when it is put and again when it is opened.</param>
public sealed record StagedLog(string Name, long Length, UInt128 Hash);
