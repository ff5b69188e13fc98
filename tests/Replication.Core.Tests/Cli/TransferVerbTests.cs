using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;
using Replication.Core.Tests.Targets;

namespace Replication.Core.Tests.Cli;

public sealed class TransferVerbTests
{
    [Fact]
    public async Task Upload_then_download_through_azurite_round_trips_and_reports_what_was_sent()
    {
        using var dir = new TempDirectory();
        string source = dir.File("source.img");
        byte[] content = ReplicaTargetContractTests.HalfZeroContent(12L << 20, 61);
        ReplicaTargetContractTests.WriteRaw(source, content);
        string container = await Azurite.NewContainerAsync();
        JsonElement up = Repl.Run("upload", source, "--connection-string", Azurite.ConnectionString, "--container", container, "--blob", "disk.vhd", "--json").Json();
        Assert.Equal(12L << 20, up.GetProperty("bytesRead").GetInt64());
        Assert.Equal(ReplicaTargetContractTests.NonZeroUnits(content, 4096) * 4096, up.GetProperty("bytesUploaded").GetInt64());
        Assert.Equal((12L << 20) - up.GetProperty("bytesUploaded").GetInt64(), up.GetProperty("bytesSkippedZero").GetInt64());
        Assert.True(up.GetProperty("requests").GetInt64() > 0);
        Assert.True(up.GetProperty("seconds").GetDouble() >= 0);

        string back = dir.File("back.img");
        Repl.Run("download", "--connection-string", Azurite.ConnectionString, "--container", container, "--blob", "disk.vhd", back, "--format", "raw", "--json").Json();
        DiskAssert.FilesEqual(source, back);

        string local = dir.File("local");
        Repl.Run("upload", source, "--target", local, "--create", "--replica-format", "raw", "--json").Json();
        Repl.Run("download", "--target", local, "--replica-format", "raw", dir.File("local.img"), "--json").Json();
        DiskAssert.FilesEqual(source, dir.File("local.img"));
    }

    [Fact]
    public void A_site_keeps_the_format_its_replica_was_created_with_and_refuses_another_in_one_line()
    {
        using var dir = new TempDirectory();
        string raw = dir.File("d.raw");
        File.WriteAllBytes(raw, DiskKinds.ScatteredContent(16L << 20, 5));
        string disk = dir.File("d.vhdx");
        Repl.Run("disk", "convert", raw, disk, "--format", "vhdx", "--type", "dynamic", "--json").Json();
        string site = dir.File("site");
        Repl.Run("upload", disk, "--target", site, "--create", "--json").Json();

        Change(disk, 1 << 20);
        ExternalTool.Result other = Repl.Run("upload", disk, "--target", site, "--replica-format", "vhdx", "--json");
        Assert.Equal(1, other.ExitCode);
        string[] lines = other.StandardError.TrimEnd().Split('\n');
        Assert.Single(lines);
        Assert.Contains("replica is vhd (replica.vhd)", lines[0], StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(site, "replica.vhdx")));

        Change(disk, 9 << 20);
        JsonElement up = Repl.Run("upload", disk, "--target", site, "--json").Json();
        Assert.Equal(2 * 4096, up.GetProperty("bytesDiffering").GetInt64());
        Repl.Run("disk", "convert", disk, dir.File("expected.raw"), "--format", "raw", "--json").Json();
        Repl.Run("download", "--target", site, dir.File("back.raw"), "--format", "raw", "--json").Json();
        DiskAssert.FilesEqual(dir.File("expected.raw"), dir.File("back.raw"));

        static void Change(string path, long offset)
        {
            using VirtualDisk d = VirtualDisk.Open(path);
            byte[] page = new byte[4096];
            new Random((int)offset).NextBytes(page);
            d.Write(offset, page);
        }
    }

    [Fact]
    public async Task Bad_credentials_give_one_line_without_the_key()
    {
        using var dir = new TempDirectory();
        string source = dir.File("source.img");
        ReplicaTargetContractTests.WriteRaw(source, new byte[1 << 20]);
        string container = await Azurite.NewContainerAsync();
        string wrong = Azurite.WithWrongKey();
        ExternalTool.Result result = Repl.Run("upload", source, "--connection-string", wrong, "--container", container, "--blob", "disk.vhd", "--json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        string line = Assert.Single(result.StandardError.TrimEnd().Split('\n'));
        Assert.Contains("key, SAS or token", line, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))[11..], line, StringComparison.Ordinal);
    }
}
