using System.CommandLine;
using Replication.Core.Replication;
using Replication.Core.Replication.Sites;

namespace Replication.Cli;

/// <summary>The site options every replication verb takes: --site DIR, or an Azure container.</summary>
internal sealed class SiteOptions
{
    private const string ConnectionStringVariable = "AZURE_STORAGE_CONNECTION_STRING";
    private readonly Option<string?> _directory = new("--site") { Description = "The recovery site: a local directory." };
    private readonly Option<string?> _connectionString = new("--connection-string")
    {
        Description = $"An Azure site: the storage account's connection string (default: ${ConnectionStringVariable}).",
    };

    private readonly Option<string?> _container = new("--container") { Description = "An Azure site: the container." };

    public void AddTo(Command command)
    {
        command.Options.Add(_directory);
        command.Options.Add(_connectionString);
        command.Options.Add(_container);
    }

    /// <param name="parse">The verb's parsed options.</param>
    /// <param name="mayCreate">True for a verb that creates a missing site when asked (protect --create).</param>
    public IReplicationSite Create(ParseResult parse, bool mayCreate = false)
    {
        if (parse.GetValue(_directory) is { } directory)
        {
            if (parse.GetValue(_container) is not null || parse.GetValue(_connectionString) is not null)
            {
                throw new ArgumentException("--site takes the place of --connection-string and --container; give one or the other.");
            }

            var local = new LocalReplicationSite(directory);
            return mayCreate || Directory.Exists(local.Location)
                ? local
                : throw new ArgumentException($"{local.Location}: no such directory (is --site right?).");
        }

        string container = parse.GetValue(_container) ?? throw new ArgumentException("Give the site: --site DIR, or --container NAME (with --connection-string or $" + ConnectionStringVariable + ").");
        string connectionString = parse.GetValue(_connectionString) ?? Environment.GetEnvironmentVariable(ConnectionStringVariable)
            ?? throw new ArgumentException($"--container needs --connection-string or ${ConnectionStringVariable}.");
        return new AzureReplicationSite(connectionString, container);
    }

    /// <summary>The item named, or the site's only item when none is.</summary>
    public async Task<string> ItemAsync(ReplicationEngine engine, IReplicationSite site, string? name, CancellationToken cancellationToken)
    {
        if (name is not null)
        {
            ItemNames.Check(name);
            return name;
        }

        List<string> items = await ToListAsync(engine.ListItemsAsync(site, cancellationToken)).ConfigureAwait(false);
        return items.Count == 1
            ? items[0]
            : throw new ArgumentException(items.Count == 0
                ? $"{site.Location} holds no protected item."
                : $"{site.Location} holds {items.Count} items ({string.Join(", ", items)}); say which with --name.");
    }

    public static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items.ConfigureAwait(false))
        {
            list.Add(item);
        }

        return list;
    }
}
