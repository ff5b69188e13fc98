using System.Data.Common;
using Npgsql;

namespace Replication.Hosting.Storage;

/// <summary>A PostgreSQL database shared by several hosts, through one pooled data source.</summary>
internal sealed class PostgresDialect : SqlDialect, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    public PostgresDialect(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Location = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}";
        _source = NpgsqlDataSource.Create(connectionString);
    }

    public override string Location { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override bool IsTransient(Exception exception) =>
        exception is NpgsqlException { IsTransient: true } or TimeoutException or IOException
        || exception is PostgresException { SqlState: "40001" or "40P01" or "55P03" or "57P03" };

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
