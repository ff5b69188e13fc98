using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;

namespace Replication.Hosting;

/// <summary>
/// How a replication host runs: its identity, where it keeps its state and schedule, how many items replicate at
/// once, and the policy of items registered without one. Checked when the host starts (each invalid option named).
/// </summary>
public sealed class ReplicationHostOptions
{
    /// <summary>This host's name, unique among the hosts sharing a database (pinned items name it). Default: the machine's name.</summary>
    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>A SQLite file for one host (the default store); ignored when <see cref="PostgresConnectionString"/> is set.</summary>
    public string? SqlitePath { get; set; }

    /// <summary>A PostgreSQL database shared by several hosts; Quartz runs clustered on it.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>Items replicating at once on this host (Quartz's thread pool), 1 to 256. Default 8.</summary>
    public int MaxConcurrentItems { get; set; } = 8;

    /// <summary>The policy of an item registered without its own.</summary>
    public ItemPolicy DefaultPolicy { get; set; } = new();

    /// <summary>
    /// How often a clustered host tells the others it is alive; a host silent for about twice this is taken for dead and
    /// its jobs move to the others. 1 second to 5 minutes. Default 7.5 seconds (Quartz's).
    /// </summary>
    public TimeSpan ClusterCheckinInterval { get; set; } = TimeSpan.FromSeconds(7.5);

    /// <summary>How late a trigger may fire before it counts as misfired (after downtime: one catch-up run, not one per missed interval). Default 60 seconds.</summary>
    public TimeSpan MisfireThreshold { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Folder for the engine's temporary files (resync manifests); null for the system temp folder.</summary>
    public string? WorkDirectory { get; set; }

    /// <summary>
    /// Called after the host records a step of a job (the engine's durable steps and the host's own; the step is given)
    /// and when a job starts an attempt, ends, or waits for a retry (no step; its state says which): for live status and logs. It runs on the job's path, so it
    /// should return quickly; what it throws fails the job's current attempt.
    /// </summary>
    public Func<JobRecord, JobStep?, ValueTask>? JobObserver { get; set; }

    /// <summary>
    /// Gives a recovery plan run that a restart resumes what cannot be stored: it receives the options the run was
    /// started with as stored (operation, output directory, point, failback mode, failure handling, parallelism; no
    /// delegates) and returns the options to resume with — typically the same values with the product's
    /// <see cref="RecoveryPlanRunOptions.Actions"/>, <see cref="RecoveryPlanRunOptions.Output"/>,
    /// <see cref="RecoveryPlanRunOptions.ShutdownSource"/> and <see cref="RecoveryPlanRunOptions.StopRecovered"/> added.
    /// Null: runs resume with the stored options alone, and a run whose plan names actions then fails, saying so. Actions
    /// and items the interrupted attempt recorded as ended are not run again; an action interrupted while running is.
    /// </summary>
    public Func<RecoveryPlanRunOptions, RecoveryPlanRunOptions>? ResumeRecoveryPlan { get; set; }

    /// <summary>True when several hosts share the store (PostgreSQL).</summary>
    public bool IsClustered => PostgresConnectionString is not null;
}
