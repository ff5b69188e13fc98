using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

public sealed class DiskVerbTests
{
    [Theory]
    [InlineData("vhd", "dynamic", "2MiB", 2097152)]
    [InlineData("vhd", "fixed", null, null)]
    [InlineData("vhdx", "dynamic", "1MiB", 1048576)]
    [InlineData("vhdx", "fixed", null, null)]
    [InlineData("raw", "fixed", null, null)]
    public void Create_then_info_reports_what_was_asked(string format, string type, string? blockSize, int? expectedBlockSize)
    {
        using var dir = new TempDirectory();
        string path = dir.File("disk." + format);
        var args = new List<string> { "disk", "create", path, "--size", "64MiB", "--format", format, "--type", type, "--json" };
        if (blockSize is not null)
        {
            args.AddRange(["--block-size", blockSize]);
        }

        Repl.Run([.. args]).Json();
        JsonElement info = Repl.Run("disk", "info", path, "--json").Json();
        Assert.Equal(format, info.GetProperty("format").GetString());
        Assert.Equal(type, info.GetProperty("type").GetString());
        Assert.Equal(64L << 20, info.GetProperty("virtualSize").GetInt64());
        Assert.Equal(512, info.GetProperty("logicalSectorSize").GetInt32());
        if (expectedBlockSize is not null)
        {
            Assert.Equal(expectedBlockSize, info.GetProperty("blockSize").GetInt32());
            Assert.Equal(0, info.GetProperty("allocatedBytes").GetInt64());
        }

        Assert.Equal(JsonValueKind.Null, info.GetProperty("parent").ValueKind);
        Assert.Equal(format == "vhdx" ? JsonValueKind.String : JsonValueKind.Null, info.GetProperty("dataWriteGuid").ValueKind);

        string qemuInfo = ExternalTool.RunChecked("qemu-img", "info", "--output=json", "-f", DiskKinds.QemuFormat(Enum.Parse<Core.Disks.DiskFormat>(format, ignoreCase: true)), path);
        Assert.Equal(64L << 20, JsonDocument.Parse(qemuInfo).RootElement.GetProperty("virtual-size").GetInt64());
    }

    [Fact]
    public void Differencing_create_names_its_parent()
    {
        using var dir = new TempDirectory();
        string parent = dir.File("base.vhdx");
        Repl.Run("disk", "create", parent, "--size", "16MiB", "--format", "vhdx", "--json").Json();
        string child = dir.File("child.vhdx");
        Repl.Run("disk", "create", child, "--format", "vhdx", "--type", "differencing", "--parent", parent, "--json").Json();
        JsonElement info = Repl.Run("disk", "info", child, "--json").Json();
        Assert.Equal("differencing", info.GetProperty("type").GetString());
        Assert.Equal(parent, info.GetProperty("parent").GetString());
        Assert.Equal(16L << 20, info.GetProperty("virtualSize").GetInt64());
    }

    [Fact]
    public void Convert_round_trips_raw_through_vhdx_and_vhd()
    {
        using var dir = new TempDirectory();
        string raw = dir.File("source.raw");
        byte[] content = DiskKinds.ScatteredContent(8L << 20, seed: 5);
        File.WriteAllBytes(raw, content);

        JsonElement toVhdx = Repl.Run("disk", "convert", raw, dir.File("a.vhdx"), "--format", "vhdx", "--json").Json();
        Assert.Equal("vhdx", toVhdx.GetProperty("format").GetString());
        Assert.Equal(8L << 20, toVhdx.GetProperty("virtualSize").GetInt64());
        Repl.Run("disk", "convert", dir.File("a.vhdx"), dir.File("b.vhd"), "--format", "vhd", "--type", "fixed", "--json").Json();
        Repl.Run("disk", "convert", dir.File("b.vhd"), dir.File("c.raw"), "--format", "raw", "--json").Json();
        DiskAssert.FilesEqual(raw, dir.File("c.raw"));
    }

    [Theory]
    [InlineData("disk", "info", "{dir}/missing.vhdx")]
    [InlineData("disk", "create", "{dir}/x.vhd", "--size", "12 parsecs", "--format", "vhd")]
    [InlineData("disk", "create", "{dir}/x.vhdx", "--size", "1MiB", "--format", "vhdx", "--block-size", "3")]
    [InlineData("disk", "create", "{dir}/x.vhd", "--size", "1MiB", "--format", "floppy")]
    [InlineData("disk", "info", "{dir}/garbage.vhdx")]
    public void Failures_exit_non_zero_with_one_line_on_standard_error(params string[] args)
    {
        using var dir = new TempDirectory();
        byte[] garbage = new byte[300_000];
        "vhdxfile"u8.CopyTo(garbage);
        File.WriteAllBytes(dir.File("garbage.vhdx"), garbage);
        ExternalTool.Result result = Repl.Run([.. args.Select(a => a.Replace("{dir}", dir.Path, StringComparison.Ordinal))]);
        Assert.NotEqual(0, result.ExitCode);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("repl: ", line, StringComparison.Ordinal);
        Assert.Equal("", result.StandardOutput);
    }
}
