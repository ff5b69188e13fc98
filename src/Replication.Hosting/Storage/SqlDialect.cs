using System.Data.Common;

namespace Replication.Hosting.Storage;

/// <summary>What differs between the databases the store runs on: how a connection is made and set up, and which errors are worth a retry.</summary>
internal abstract class SqlDialect
{
    /// <summary>The database, for messages (a path, or host/port/database; never a password).</summary>
    public abstract string Location { get; }

    /// <summary>The type of a floating-point column.</summary>
    public virtual string DoubleType => "DOUBLE PRECISION";

    /// <summary>An open connection, set up for the store's use.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>True when the failure may pass (a busy or unreachable database).</summary>
    public abstract bool IsTransient(Exception exception);

    /// <summary>Done once before the tables are created.</summary>
    public virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
