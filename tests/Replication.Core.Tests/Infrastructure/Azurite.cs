using Azure.Storage.Blobs;
using Replication.Core.Targets.Azure;

namespace Replication.Core.Tests.Infrastructure;

/// <summary>
/// The Azurite instance the test script starts (REPL_AZURITE_CONNECTION_STRING). A test that needs it fails, never
/// skips, when it is missing. Every test works in a container of its own.
/// </summary>
public static class Azurite
{
    public const string Variable = "REPL_AZURITE_CONNECTION_STRING";

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new Xunit.Sdk.XunitException($"{Variable} is not set: run scripts/test.sh, which starts Azurite and sets it.");

    /// <summary>Creates a container with a fresh name and returns the name.</summary>
    public static async Task<string> NewContainerAsync()
    {
        string name = "t" + Guid.NewGuid().ToString("N")[..20];
        await new BlobServiceClient(ConnectionString).GetBlobContainerClient(name).CreateAsync();
        return name;
    }

    public static AzurePageBlobTarget Target(string container, string blob = "replica.vhd", AzurePageBlobTargetOptions? options = null, TimeProvider? timeProvider = null) =>
        new(ConnectionString, container, blob, options, timeProvider);

    /// <summary>The development account key in the connection string (to check it never leaks).</summary>
    public static string AccountKey => ConnectionString.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))["AccountKey=".Length..];

    /// <summary>The connection string with a different (wrong) key of the same length.</summary>
    public static string WithWrongKey()
    {
        byte[] key = Convert.FromBase64String(AccountKey);
        for (int i = 0; i < key.Length; i++)
        {
            key[i] ^= 0x5A;
        }

        return ConnectionString.Replace(AccountKey, Convert.ToBase64String(key), StringComparison.Ordinal);
    }
}
