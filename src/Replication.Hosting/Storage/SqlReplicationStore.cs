using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Replication.Core;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Storage;

/// <summary>
/// <see cref="IReplicationStore"/> over SQL that SQLite and PostgreSQL both run as written (upserts with
/// <c>ON CONFLICT</c>, times as Unix milliseconds), so the two stores cannot drift apart. Items and plans are kept as
/// JSON bodies; jobs as columns, so an operator can query them with the database's own tools.
/// </summary>
public sealed class SqlReplicationStore : IReplicationStore, IAsyncDisposable
{
    private readonly SqlDialect _dialect;

    private SqlReplicationStore(SqlDialect dialect) => _dialect = dialect;

    /// <summary>Where the store is (a file path, or <c>postgresql://host:port/database</c>); never holds a password.</summary>
    public string Location => _dialect.Location;

    /// <summary>A store in a SQLite file (created with its folder when missing).</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static SqlReplicationStore Sqlite(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new SqlReplicationStore(new SqliteDialect(path));
    }

    /// <summary>A store in a PostgreSQL database, shared by every host that names it.</summary>
    /// <exception cref="ArgumentException">The connection string is not valid.</exception>
    public static SqlReplicationStore Postgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        return new SqlReplicationStore(new PostgresDialect(connectionString));
    }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        string[] tables =
        [
            "CREATE TABLE IF NOT EXISTS repl_items (name TEXT PRIMARY KEY, pinned_host TEXT NULL, body TEXT NOT NULL, updated BIGINT NOT NULL)",
            $"CREATE TABLE IF NOT EXISTS repl_jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, item TEXT NOT NULL, state TEXT NOT NULL, attempt BIGINT NOT NULL, host TEXT NULL, started BIGINT NOT NULL, ended BIGINT NULL, next_attempt BIGINT NULL, progress {_dialect.DoubleType} NOT NULL, error_recoverable BIGINT NULL, error_code TEXT NULL, error_message TEXT NULL, result TEXT NULL, seq BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS repl_jobs_item ON repl_jobs (item, seq)",
            "CREATE TABLE IF NOT EXISTS repl_job_steps (job_id TEXT NOT NULL, seq BIGINT NOT NULL, name TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (job_id, seq))",
            "CREATE TABLE IF NOT EXISTS repl_plans (name TEXT PRIMARY KEY, body TEXT NOT NULL, updated BIGINT NOT NULL)",
        ];
        try
        {
            await _dialect.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure("opening the database", ex);
        }

        await RunAsync("creating the tables", async (connection, ct) =>
        {
            foreach (string sql in tables)
            {
                for (int attempt = 0; ; attempt++)
                {
                    try
                    {
                        await ExecuteAsync(connection, sql, ct).ConfigureAwait(false);
                        break;
                    }
                    catch (DbException) when (attempt < 3)
                    {
                        // Two hosts creating the same table at once: PostgreSQL refuses the loser's IF NOT EXISTS with a
                        // unique violation in its catalogue. The table exists by then; the next try says so.
                    }
                }
            }

            return 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task SaveItemAsync(HostedItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        string body = JsonSerializer.Serialize(item, HostingJsonContext.Default.HostedItem);
        return RunAsync($"saving item '{item.Name}'", (connection, ct) => ExecuteAsync(
            connection,
            "INSERT INTO repl_items (name, pinned_host, body, updated) VALUES (@name, @pinned, @body, @updated) "
            + "ON CONFLICT (name) DO UPDATE SET pinned_host = excluded.pinned_host, body = excluded.body, updated = excluded.updated",
            ct,
            ("name", item.Name), ("pinned", item.PinnedHost), ("body", body), ("updated", Millis(item.Updated))), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<HostedItem?> GetItemAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        IReadOnlyList<HostedItem> found = await QueryAsync(
            $"reading item '{name}'", "SELECT body FROM repl_items WHERE name = @name", ReadItem, cancellationToken, ("name", name)).ConfigureAwait(false);
        return found.Count > 0 ? found[0] : null;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<HostedItem>> ListItemsAsync(CancellationToken cancellationToken = default) =>
        QueryAsync("listing items", "SELECT body FROM repl_items ORDER BY name", ReadItem, cancellationToken);

    /// <inheritdoc />
    public Task DeleteItemAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return RunAsync($"deleting item '{name}'", async (connection, ct) =>
        {
            await using DbTransaction transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await ExecuteAsync(connection, "DELETE FROM repl_job_steps WHERE job_id IN (SELECT id FROM repl_jobs WHERE item = @name)", ct, ("name", name)).ConfigureAwait(false);
            await ExecuteAsync(connection, "DELETE FROM repl_jobs WHERE item = @name", ct, ("name", name)).ConfigureAwait(false);
            int deleted = await ExecuteAsync(connection, "DELETE FROM repl_items WHERE name = @name", ct, ("name", name)).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return deleted;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task AddJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        return RunAsync($"adding job {job.Id}", (connection, ct) => ExecuteAsync(
            connection,
            "INSERT INTO repl_jobs (id, kind, item, state, attempt, host, started, ended, next_attempt, progress, error_recoverable, error_code, error_message, result, seq) "
            + "VALUES (@id, @kind, @item, @state, @attempt, @host, @started, @ended, @next, @progress, @recoverable, @code, @message, @result, "
            + "(SELECT COALESCE(MAX(seq), 0) + 1 FROM repl_jobs))",
            ct,
            JobParameters(job)), cancellationToken);
    }

    /// <inheritdoc />
    public Task UpdateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        return RunAsync($"updating job {job.Id}", async (connection, ct) =>
        {
            int updated = await ExecuteAsync(
                connection,
                "UPDATE repl_jobs SET kind = @kind, item = @item, state = @state, attempt = @attempt, host = @host, started = @started, ended = @ended, "
                + "next_attempt = @next, progress = @progress, error_recoverable = @recoverable, error_code = @code, error_message = @message, result = @result WHERE id = @id",
                ct,
                JobParameters(job)).ConfigureAwait(false);
            return updated == 1 ? updated : throw new ReplicationStoreException(false, $"{Location}: no job {job.Id} to update.");
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task AddStepAsync(string jobId, JobStep step, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentNullException.ThrowIfNull(step);
        return RunAsync($"adding a step to job {jobId}", (connection, ct) => ExecuteAsync(
            connection,
            "INSERT INTO repl_job_steps (job_id, seq, name, at) VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM repl_job_steps WHERE job_id = @id), @name, @at)",
            ct,
            ("id", jobId), ("name", step.Name), ("at", Millis(step.At))), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<JobRecord?> GetJobAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        IReadOnlyList<JobRecord> jobs = await QueryAsync($"reading job {id}", SelectJobs + " WHERE id = @id", ReadJob, cancellationToken, ("id", id)).ConfigureAwait(false);
        if (jobs.Count == 0)
        {
            return null;
        }

        jobs[0].Steps = await QueryAsync(
            $"reading the steps of job {id}", "SELECT name, at FROM repl_job_steps WHERE job_id = @id ORDER BY seq",
            r => new JobStep(r.GetString(0), Time(r.GetInt64(1))), cancellationToken, ("id", id)).ConfigureAwait(false);
        return jobs[0];
    }

    /// <inheritdoc />
    public async Task<JobRecord?> FindOpenJobAsync(string item, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(item);
        IReadOnlyList<JobRecord> jobs = await QueryAsync(
            $"finding the open job of '{item}'",
            SelectJobs + " WHERE item = @item AND ended IS NULL ORDER BY seq DESC",
            ReadJob, cancellationToken, ("item", item)).ConfigureAwait(false);
        return jobs.Count > 0 ? await GetJobAsync(jobs[0].Id, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? item = null, int limit = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        string limitText = limit.ToString(CultureInfo.InvariantCulture);
        return item is null
            ? QueryAsync("listing jobs", SelectJobs + " ORDER BY seq DESC LIMIT " + limitText, ReadJob, cancellationToken)
            : QueryAsync($"listing the jobs of '{item}'", SelectJobs + " WHERE item = @item ORDER BY seq DESC LIMIT " + limitText, ReadJob, cancellationToken, ("item", item));
    }

    /// <inheritdoc />
    public Task SavePlanAsync(RecoveryPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Validate() is [var first, ..])
        {
            throw new ArgumentException(first, nameof(plan));
        }

        string body = JsonSerializer.Serialize(plan, HostingJsonContext.Default.RecoveryPlan);
        return RunAsync($"saving plan '{plan.Name}'", (connection, ct) => ExecuteAsync(
            connection,
            "INSERT INTO repl_plans (name, body, updated) VALUES (@name, @body, @updated) ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated = excluded.updated",
            ct,
            ("name", plan.Name), ("body", body), ("updated", Millis(DateTimeOffset.UtcNow))), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<RecoveryPlan?> GetPlanAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        IReadOnlyList<RecoveryPlan> found = await QueryAsync(
            $"reading plan '{name}'", "SELECT body FROM repl_plans WHERE name = @name", ReadPlan, cancellationToken, ("name", name)).ConfigureAwait(false);
        return found.Count > 0 ? found[0] : null;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RecoveryPlan>> ListPlansAsync(CancellationToken cancellationToken = default) =>
        QueryAsync("listing plans", "SELECT body FROM repl_plans ORDER BY name", ReadPlan, cancellationToken);

    /// <summary>Closes the store's connections (PostgreSQL's pool).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_dialect is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
    }

    private const string SelectJobs =
        "SELECT id, kind, item, state, attempt, host, started, ended, next_attempt, progress, error_recoverable, error_code, error_message, result FROM repl_jobs";

    private static (string, object?)[] JobParameters(JobRecord job) =>
    [
        ("id", job.Id), ("kind", job.Kind.ToString()), ("item", job.Item), ("state", job.State.ToString()), ("attempt", (long)job.Attempt),
        ("host", job.Host), ("started", Millis(job.Started)), ("ended", Millis(job.Ended)), ("next", Millis(job.NextAttempt)), ("progress", job.Progress),
        ("recoverable", job.Error is { } e ? (e.IsRecoverable ? 1L : 0L) : null), ("code", job.Error?.Code.ToString()), ("message", job.Error?.Message),
        ("result", job.Result),
    ];

    private JobRecord ReadJob(DbDataReader r)
    {
        string id = r.GetString(0);
        return new JobRecord
        {
            Id = id,
            Kind = Parse<JobKind>(r.GetString(1), id, "kind"),
            Item = r.GetString(2),
            State = Parse<JobState>(r.GetString(3), id, "state"),
            Attempt = checked((int)r.GetInt64(4)),
            Host = r.IsDBNull(5) ? null : r.GetString(5),
            Started = Time(r.GetInt64(6)),
            Ended = r.IsDBNull(7) ? null : Time(r.GetInt64(7)),
            NextAttempt = r.IsDBNull(8) ? null : Time(r.GetInt64(8)),
            Progress = r.GetDouble(9),
            Error = r.IsDBNull(10) ? null : new JobError
            {
                IsRecoverable = r.GetInt64(10) != 0,
                Code = Parse<ReplicationErrorCode>(r.IsDBNull(11) ? nameof(ReplicationErrorCode.Unknown) : r.GetString(11), id, "error_code"),
                Message = r.IsDBNull(12) ? "" : r.GetString(12),
            },
            Result = r.IsDBNull(13) ? null : r.GetString(13),
        };
    }

    private T Parse<T>(string value, string id, string column)
        where T : struct, Enum =>
        Enum.TryParse(value, out T parsed) ? parsed : throw new ReplicationStoreException(false, $"{Location}: job {id} has {column} '{value}', which this version does not know.");

    private HostedItem ReadItem(DbDataReader r) => Decode(r.GetString(0), HostingJsonContext.Default.HostedItem, "item");

    private RecoveryPlan ReadPlan(DbDataReader r) => Decode(r.GetString(0), HostingJsonContext.Default.RecoveryPlan, "plan");

    private T Decode<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw new JsonException("null body");
        }
        catch (JsonException ex)
        {
            throw new ReplicationStoreException(false, $"{Location}: a stored {what} cannot be read ({ex.Message}).", ex);
        }
    }

    private static object? Millis(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    private static DateTimeOffset Time(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(
        string what, string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        await RunAsync(what, async (connection, ct) =>
        {
            await using DbCommand command = Command(connection, sql, parameters);
            await using DbDataReader reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var rows = new List<T>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add(read(reader));
            }

            return rows;
        }, cancellationToken).ConfigureAwait(false);

    private static async Task<int> ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        DbCommand command = connection.CreateCommand();
#pragma warning disable CA2100 // The SQL is the store's own constants; values go in parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        foreach ((string name, object? value) in parameters)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private async Task<T> RunAsync<T>(string what, Func<DbConnection, CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await _dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await action(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure(what, ex);
        }
    }

    private static bool IsDatabaseFailure(Exception ex) =>
        ex is DbException or IOException or TimeoutException or InvalidOperationException or UnauthorizedAccessException && ex is not ReplicationStoreException;

    private ReplicationStoreException Failure(string what, Exception ex) =>
        new(_dialect.IsTransient(ex), $"{Location}: {what} failed ({ex.Message.ReplaceLineEndings(" ")}).", ex);

    private async Task RunAsync(string what, Func<DbConnection, CancellationToken, Task<int>> action, CancellationToken cancellationToken) =>
        await RunAsync<int>(what, action, cancellationToken).ConfigureAwait(false);
}
