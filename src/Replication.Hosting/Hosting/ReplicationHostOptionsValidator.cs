using Microsoft.Extensions.Options;

namespace Replication.Hosting;

/// <summary>Checks <see cref="ReplicationHostOptions"/> when the host starts; every invalid option is named in one failure.</summary>
internal sealed class ReplicationHostOptionsValidator : IValidateOptions<ReplicationHostOptions>
{
    public ValidateOptionsResult Validate(string? name, ReplicationHostOptions options)
    {
        const string Prefix = nameof(ReplicationHostOptions);
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(options.HostId) || options.HostId.Length > 100)
        {
            problems.Add($"{Prefix}.HostId must be 1 to 100 characters.");
        }

        if (options.SqlitePath is null && options.PostgresConnectionString is null)
        {
            problems.Add($"{Prefix}.SqlitePath or {Prefix}.PostgresConnectionString must be set (UseSqlite or UsePostgres).");
        }

        if (options.PostgresConnectionString is { } connectionString)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            }
            catch (ArgumentException)
            {
                problems.Add($"{Prefix}.PostgresConnectionString is not a valid connection string.");
            }
        }

        if (options.MaxConcurrentItems is < 1 or > 256)
        {
            problems.Add($"{Prefix}.MaxConcurrentItems must be 1 to 256 (is {options.MaxConcurrentItems}).");
        }

        if (options.ClusterCheckinInterval < TimeSpan.FromSeconds(1) || options.ClusterCheckinInterval > TimeSpan.FromMinutes(5))
        {
            problems.Add($"{Prefix}.ClusterCheckinInterval must be 1 second to 5 minutes (is {options.ClusterCheckinInterval}).");
        }

        if (options.MisfireThreshold < TimeSpan.FromSeconds(1))
        {
            problems.Add($"{Prefix}.MisfireThreshold must be at least 1 second (is {options.MisfireThreshold}).");
        }

        if (options.DefaultPolicy is null)
        {
            problems.Add($"{Prefix}.DefaultPolicy must be set.");
        }
        else
        {
            problems.AddRange(options.DefaultPolicy.Validate($"{Prefix}.DefaultPolicy"));
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
