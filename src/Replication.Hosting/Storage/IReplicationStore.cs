using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Storage;

/// <summary>
/// The host's durable state for one site: its items, their jobs with steps, and recovery plans. SQLite for one host (a
/// local file, nothing to install), PostgreSQL for several sharing the work; both behave the same. Every write is
/// durable when the returned task completes; readers see whole records only.
/// </summary>
public interface IReplicationStore
{
    /// <summary>Creates the tables that are missing; harmless to repeat, and several hosts may do it at once.</summary>
    /// <exception cref="ReplicationStoreException">The database cannot be reached or written.</exception>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds the item, or replaces the record kept for it.</summary>
    Task SaveItemAsync(HostedItem item, CancellationToken cancellationToken = default);

    /// <summary>The item's record, or null.</summary>
    Task<HostedItem?> GetItemAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every item, in ordinal order of their names.</summary>
    Task<IReadOnlyList<HostedItem>> ListItemsAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the item and its jobs; removing what is gone is harmless.</summary>
    Task DeleteItemAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Adds a job.</summary>
    /// <exception cref="ReplicationStoreException">A job with that id exists.</exception>
    Task AddJobAsync(JobRecord job, CancellationToken cancellationToken = default);

    /// <summary>Replaces a job's record (not its steps).</summary>
    Task UpdateJobAsync(JobRecord job, CancellationToken cancellationToken = default);

    /// <summary>Appends a step to a job.</summary>
    Task AddStepAsync(string jobId, JobStep step, CancellationToken cancellationToken = default);

    /// <summary>A job with its steps, or null.</summary>
    Task<JobRecord?> GetJobAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// The item's job that has not ended (in progress, interrupted, or waiting for a retry), or null: the one a host
    /// resumes rather than starting another.
    /// </summary>
    Task<JobRecord?> FindOpenJobAsync(string item, CancellationToken cancellationToken = default);

    /// <summary>Jobs, newest first, without their steps.</summary>
    /// <param name="item">Only this item's jobs, or null for all.</param>
    /// <param name="limit">At most this many (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? item = null, int limit = 1000, CancellationToken cancellationToken = default);

    /// <summary>Adds a recovery plan or replaces the one of that name.</summary>
    Task SavePlanAsync(RecoveryPlan plan, CancellationToken cancellationToken = default);

    /// <summary>The plan, or null.</summary>
    Task<RecoveryPlan?> GetPlanAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every plan, in ordinal order of their names.</summary>
    Task<IReadOnlyList<RecoveryPlan>> ListPlansAsync(CancellationToken cancellationToken = default);
}
