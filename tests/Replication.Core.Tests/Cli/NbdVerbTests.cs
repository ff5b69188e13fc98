using System.Net;
using System.Text.Json;
using Replication.Core.ChangeTracking;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Transfer;

namespace Replication.Core.Tests.Cli;

/// <summary><c>repl nbd serve</c> as a user runs it: served until SIGTERM, then a clean close with the log sealed.</summary>
public sealed class NbdVerbTests
{
    private const int Size = 8 << 20;

    /// <summary>Starts <c>repl nbd serve</c> and reads its "listening" event.</summary>
    internal static (ChildProcess Child, JsonElement Listening) Serve(params string[] arguments)
    {
        ChildProcess child = ChildProcess.StartDotnet(RepoPaths.ReplDll, ["nbd", "serve", .. arguments, "--json"]);
        string? line = child.ReadLine();
        if (line is null)
        {
            (int code, string error) = child.WaitForExit();
            child.Dispose();
            throw new Xunit.Sdk.XunitException($"repl nbd serve exited {code} before listening: {error}");
        }

        using var doc = JsonDocument.Parse(line);
        Assert.Equal("listening", doc.RootElement.GetProperty("event").GetString());
        return (child, doc.RootElement.Clone());
    }

    internal static void Terminate(ChildProcess child) => ExternalTool.RunChecked("kill", "-TERM", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Serve_records_client_writes_and_sigterm_seals_the_log_and_exits_cleanly()
    {
        using var dir = new TempDirectory();
        byte[] start = DiskKinds.ScatteredContent(Size, 3);
        string disk = dir.File("vm.img");
        await File.WriteAllBytesAsync(disk, start);
        string logs = dir.File("vm.logs");
        (ChildProcess child, JsonElement listening) = Serve(disk, "--logs", logs, "--listen", "127.0.0.1:0", "--export", "vm", "--rotate-interval", "20ms");
        using (child)
        {
            string uri = listening.GetProperty("uri").GetString()!;
            Assert.StartsWith("nbd://127.0.0.1:", uri, StringComparison.Ordinal);
            Assert.EndsWith("/vm", uri, StringComparison.Ordinal);
            Assert.Equal(Size, listening.GetProperty("size").GetInt64());
            Assert.Equal(logs, listening.GetProperty("logs").GetString());

            ExternalTool.RunChecked("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "write -P 0x22 1M 4k", uri);

            // Rotations run while the server serves: wait for one, then write again, so the writes span two logs at least.
            while (child.ReadLine() is { } line && !line.Contains("\"rotated\"", StringComparison.Ordinal))
            {
            }

            ExternalTool.RunChecked("qemu-io", "-f", "raw", "-c", "write -P 0x33 2M 128k", "-c", "write -z 3M 64k", "-c", "flush", uri);
            Terminate(child);
            string? stopped = null;
            while (child.ReadLine() is { } line)
            {
                stopped = line;
            }

            (int code, string error) = child.WaitForExit();
            Assert.True(code == 0, error);
            Assert.Contains("\"event\":\"stopped\"", stopped, StringComparison.Ordinal);
        }

        byte[] model = (byte[])start.Clone();
        model.AsSpan(0, 64 << 10).Fill(0x11);
        model.AsSpan(1 << 20, 4096).Fill(0x22);
        model.AsSpan(2 << 20, 128 << 10).Fill(0x33);
        model.AsSpan(3 << 20, 64 << 10).Clear();
        Assert.Equal(model, await File.ReadAllBytesAsync(disk));

        string replica = dir.File("replica.img");
        await File.WriteAllBytesAsync(replica, start);
        using (TrackedDisk tracked = TrackedDisk.Open(VirtualDisk.Open(disk), logs))
        {
            Assert.True(tracked.OpenReport.WasClosedCleanly);
            Assert.False(tracked.Resync.IsRequired);
            Assert.True(tracked.PendingLogs.Count >= 2);
            using VirtualDisk target = VirtualDisk.Open(replica);
            await new LogApplier().ApplyAsync([.. tracked.PendingLogs.Select(l => l.Path)], target, new LogApplyOptions { ExpectedPreviousUniqueId = Guid.Empty });
        }

        Assert.Equal(model, await File.ReadAllBytesAsync(replica));
    }

    [Fact]
    public async Task Read_only_serves_a_unix_socket_without_logs_and_refuses_writes()
    {
        using var dir = new TempDirectory();
        byte[] start = DiskKinds.ScatteredContent(Size, 4);
        string disk = dir.File("ro.img");
        await File.WriteAllBytesAsync(disk, start);
        string socket = dir.File("ro.sock");
        (ChildProcess child, JsonElement listening) = Serve(disk, "--socket", socket, "--read-only");
        using (child)
        {
            string uri = listening.GetProperty("uri").GetString()!;
            Assert.Equal($"nbd+unix:///ro.img?socket={socket}", uri);
            using (var doc = JsonDocument.Parse(ExternalTool.RunChecked("nbdinfo", "--json", uri)))
            {
                Assert.True(doc.RootElement.GetProperty("exports")[0].GetProperty("is_read_only").GetBoolean());
            }

            Assert.NotEqual(0, ExternalTool.Run("qemu-io", "-f", "raw", "-c", "write 0 4k", uri).ExitCode);
            Terminate(child);
            while (child.ReadLine() is not null)
            {
            }

            Assert.Equal(0, child.WaitForExit().ExitCode);
        }

        Assert.Equal(start, await File.ReadAllBytesAsync(disk));
        Assert.False(Directory.Exists(disk + ".logs"));
        Assert.False(File.Exists(socket));
    }

    [Theory]
    [InlineData("--export", "has space")]
    [InlineData("--listen", "localhost")]
    [InlineData("--listen", "127.0.0.1")]
    [InlineData("--rotate-interval", "soon")]
    [InlineData("--socket", "/nonexistent-folder/x.sock")]
    public void Bad_arguments_fail_with_one_line(string option, string value)
    {
        using var dir = new TempDirectory();
        string disk = dir.File("d.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        ExternalTool.Result result = Repl.Run("nbd", "serve", disk, option, value);
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.StandardError.TrimEnd().Split('\n'));
        Assert.StartsWith("repl: ", result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(disk + ".logs") && Directory.GetFiles(disk + ".logs", "*.hrl*").Length > 0);
    }

    [Fact]
    public void A_missing_disk_and_both_listen_and_socket_fail_with_one_line()
    {
        using var dir = new TempDirectory();
        ExternalTool.Result missing = Repl.Run("nbd", "serve", dir.File("none.img"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Single(missing.StandardError.TrimEnd().Split('\n'));
        File.WriteAllBytes(dir.File("d.img"), new byte[1 << 20]);
        ExternalTool.Result both = Repl.Run("nbd", "serve", dir.File("d.img"), "--listen", new IPEndPoint(IPAddress.Loopback, 0).ToString(), "--socket", dir.File("s"));
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("not both", both.StandardError, StringComparison.Ordinal);
    }
}
