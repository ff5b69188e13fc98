using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Replication.Core;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;
using Replication.Hosting.Items;
using Replication.Hosting.Jobs;
using Replication.Hosting.Storage;

namespace Replication.Cli;

/// <summary>
/// Where the replication host keeps its items and jobs for a site: <c>--db PATH</c> (SQLite), <c>--postgres CONNSTR</c>
/// (several hosts), or by default one SQLite file per site under the user's data directory
/// (<c>~/.local/share/repl/hosts/</c> on Linux), named after the site.
/// </summary>
internal sealed class HostStoreOptions
{
    private readonly Option<string?> _db = new("--db") { Description = "The host's SQLite database (default: one per site under the user's data directory)." };
    private readonly Option<string?> _postgres = new("--postgres") { Description = "A PostgreSQL connection string: the database several hosts share." };

    public void AddTo(Command command)
    {
        command.Options.Add(_db);
        command.Options.Add(_postgres);
    }

    /// <summary>True when --db or --postgres was given.</summary>
    public bool Given(ParseResult parse) => parse.GetValue(_db) is not null || parse.GetValue(_postgres) is not null;

    public string? Postgres(ParseResult parse) => parse.GetValue(_postgres);

    /// <summary>The SQLite file for the site (given or default); null with --postgres.</summary>
    public string? SqlitePath(ParseResult parse, string siteLocation)
    {
        if (parse.GetValue(_postgres) is not null)
        {
            return parse.GetValue(_db) is null ? null : throw new ArgumentException("--db and --postgres name two stores; give one.");
        }

        return parse.GetValue(_db) is { } db ? Path.GetFullPath(db) : DefaultPath(siteLocation);
    }

    /// <summary>Opens the store (tables created when missing).</summary>
    public async Task<SqlReplicationStore> OpenAsync(ParseResult parse, string siteLocation, CancellationToken cancellationToken)
    {
        SqlReplicationStore store;
        if (Postgres(parse) is { } pg)
        {
            store = SqlReplicationStore.Postgres(pg);
        }
        else
        {
            string path = SqlitePath(parse, siteLocation)!;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            store = SqlReplicationStore.Sqlite(path);
        }

        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        return store;
    }

    /// <summary>The store if it exists (a SQLite file that is not there is not created), else null.</summary>
    public async Task<SqlReplicationStore?> OpenExistingAsync(ParseResult parse, string siteLocation, CancellationToken cancellationToken) =>
        Postgres(parse) is null && !File.Exists(SqlitePath(parse, siteLocation)) ? null : await OpenAsync(parse, siteLocation, cancellationToken).ConfigureAwait(false);

    /// <summary><c>DATA/repl/hosts/NAME-HASH.db</c>: readable, and distinct for two sites of the same name.</summary>
    public static string DefaultPath(string siteLocation)
    {
        string data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        string name = new([.. Path.GetFileName(siteLocation.TrimEnd('/', '\\')).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(siteLocation)))[..12];
        return Path.Combine(data, "repl", "hosts", $"{(name.Length == 0 ? "site" : name)}-{hash}.db");
    }

    /// <summary>
    /// Records an item protected by <c>repl protect</c> in the host's store, with its copy frequency, and its enable-protection
    /// job: <c>repl run</c> then hosts it and <c>repl jobs</c> lists what was done.
    /// </summary>
    public async Task RecordProtectedAsync(
        ParseResult parse, IReplicationSite site, string item, IReadOnlyList<string> disks, TimeSpan? frequency, ReplicationRunResult result, DateTimeOffset started, CancellationToken cancellationToken)
    {
        await using SqlReplicationStore store = await OpenAsync(parse, site.Location, cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        ItemPolicy policy = (await store.GetItemAsync(item, cancellationToken).ConfigureAwait(false))?.Policy ?? new ItemPolicy();
        policy.CopyFrequency = frequency ?? policy.CopyFrequency;
        if (policy.Validate("--frequency") is [var problem, ..])
        {
            throw new ArgumentException(problem);
        }

        await store.SaveItemAsync(new HostedItem
        {
            Name = item,
            Disks = disks,
            Policy = policy,
            ProtectionState = result.State,
            LastRecoveryPointId = result.RecoveryPoint?.Id,
            LastRecoveryPointAt = result.RecoveryPoint?.CreatedAt,
            Updated = now,
        }, cancellationToken).ConfigureAwait(false);
        await store.AddJobAsync(new JobRecord
        {
            Id = string.Create(CultureInfo.InvariantCulture, $"{started.UtcDateTime:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..12]}"),
            Kind = JobKind.EnableProtection,
            Item = item,
            Host = Environment.MachineName,
            State = JobState.Succeeded,
            Started = started,
            Ended = now,
            Progress = 1,
            Result = string.Create(CultureInfo.InvariantCulture, $"recovery point {result.RecoveryPoint?.Id}, {result.BytesSent} bytes sent"),
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>30s, 5m, 15m, or any duration of at least 30 seconds.</summary>
    public static TimeSpan ParseFrequency(string text)
    {
        TimeSpan frequency = Durations.Parse(text);
        return frequency >= ItemPolicy.MinimumCopyFrequency
            ? frequency
            : throw new ArgumentException($"--frequency {text} is shorter than {ItemPolicy.MinimumCopyFrequency.TotalSeconds:0} s (Hyper-V's choices: 30s, 5m, 15m).");
    }

    /// <summary>
    /// Null when the site answers; otherwise why not, in one line (checked with a bound, so a command that reads the store
    /// never hangs on a site that does not answer).
    /// </summary>
    public static async Task<string?> UnreachableAsync(Func<IReplicationSite> site, CancellationToken cancellationToken)
    {
        try
        {
            IReplicationSite target = site();
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(15));
            await foreach (string _ in new ReplicationEngine().ListItemsAsync(target, bounded.Token).ConfigureAwait(false))
            {
                break;
            }

            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "it did not answer within 15 s";
        }
        catch (Exception ex) when (ex is ReplicationException or ArgumentException or IOException or UnauthorizedAccessException or HttpRequestException)
        {
            return ex.Message.ReplaceLineEndings(" ");
        }
    }
}
