using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Replication.Hosting.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL cluster for the tests: Debian's <c>postgresql</c> binaries, a data folder in the temp folder, a
/// free loopback port, stopped and deleted on dispose. Fails (never skips) when PostgreSQL is not installed
/// (<c>scripts/test.sh</c> installs it). As root the server runs as the <c>postgres</c> user, which PostgreSQL requires.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string _bin;
    private readonly string _root;
    private readonly string _data;
    private int _databases;

    public PostgresServer()
    {
        _bin = FindBin();
        _root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repl-pg-" + Guid.NewGuid().ToString("N"));
        _data = System.IO.Path.Combine(_root, "data");
        Directory.CreateDirectory(_root);
        if (Environment.IsPrivilegedProcess)
        {
            Run("chown", "postgres:postgres", _root);
        }

        Port = FreePort();
        RunAsServer("initdb", "-D", _data, "-A", "trust", "-U", "repl", "--no-sync", "-E", "UTF8");
        RunAsServer(
            "pg_ctl", "-D", _data, "-l", System.IO.Path.Combine(_root, "server.log"), "-w", "-t", "120", "-o",
            $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            "start");
    }

    public int Port { get; }

    /// <summary>The connection string of the server's maintenance database.</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=repl;Database=postgres;Pooling=false";

    /// <summary>A new, empty database; returns its connection string.</summary>
    public string CreateDatabase()
    {
        string name = "db" + Interlocked.Increment(ref _databases) + "_" + Guid.NewGuid().ToString("N")[..8];
        using var connection = new NpgsqlConnection(AdminConnectionString);
        connection.Open();
        using NpgsqlCommand command = connection.CreateCommand();
        command.CommandText = "CREATE DATABASE " + name;
        command.ExecuteNonQuery();
        return $"Host=127.0.0.1;Port={Port};Username=repl;Database={name};Maximum Pool Size=20";
    }

    public void Dispose()
    {
        try
        {
            RunAsServer("pg_ctl", "-D", _data, "-m", "immediate", "-w", "stop");
        }
        finally
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // A server process still closing a file; the temp folder is cleaned by the OS.
            }
        }
    }

    private static string FindBin()
    {
        string[] candidates = Directory.Exists("/usr/lib/postgresql")
            ? [.. Directory.GetDirectories("/usr/lib/postgresql").Select(d => System.IO.Path.Combine(d, "bin")).Where(d => File.Exists(System.IO.Path.Combine(d, "initdb"))).OrderDescending()]
            : [];
        return candidates.FirstOrDefault()
            ?? throw new InvalidOperationException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install Debian's 'postgresql' package (scripts/test.sh does).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void RunAsServer(string tool, params string[] arguments)
    {
        string path = System.IO.Path.Combine(_bin, tool);
        if (Environment.IsPrivilegedProcess)
        {
            Run("runuser", ["-u", "postgres", "--", path, .. arguments]);
        }
        else
        {
            Run(path, arguments);
        }
    }

    private static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} did not finish within three minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {output.Result} {error.Result}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
