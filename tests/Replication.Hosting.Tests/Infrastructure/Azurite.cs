namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>The Azurite instance scripts/test.sh starts (or <c>source scripts/azurite.sh &amp;&amp; start_azurite</c>). Tests fail, never skip, without it.</summary>
public static class Azurite
{
    public static string ConnectionString() =>
        Environment.GetEnvironmentVariable("REPL_AZURITE_CONNECTION_STRING")
        ?? throw new InvalidOperationException("REPL_AZURITE_CONNECTION_STRING is not set: run scripts/test.sh, or 'source scripts/azurite.sh && start_azurite' first.");
}
