using System.Text.Json;
using Replication.Core.ChangeTracking;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Disks;
using Replication.Core.Tests.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

public sealed class HrlVerbTests
{
    private const int Size = 4 << 20;

    private static string Disk(TempDirectory dir, string name, byte[] content)
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public void Diff_writes_exactly_the_differing_sectors_and_apply_with_undo_goes_there_and_back()
    {
        using var dir = new TempDirectory();
        byte[] before = DiskKinds.ScatteredContent(Size, 1);
        byte[] after = (byte[])before.Clone();
        var random = new Random(2);
        for (int i = 0; i < 30; i++)
        {
            int offset = random.Next(0, Size - 20_000);
            random.NextBytes(after.AsSpan(offset, random.Next(1, 20_000)));
        }

        string a = Disk(dir, "a.img", before);
        string b = Disk(dir, "b.img", after);
        string log = dir.File("delta.hrl");
        JsonElement diff = Repl.Run("hrl", "diff", a, b, "-o", log, "--json").Json();
        Assert.Equal(log, diff.GetProperty("path").GetString());
        HrlIntegrity.VerifySidecar(log);

        // The entries are exactly the runs of differing sectors.
        var differing = new List<(long Offset, long Length)>();
        for (int sector = 0; sector < Size; sector += 512)
        {
            if (!before.AsSpan(sector, 512).SequenceEqual(after.AsSpan(sector, 512)))
            {
                if (differing.Count > 0 && differing[^1].Offset + differing[^1].Length == sector && sector % (1 << 20) != 0)
                {
                    differing[^1] = (differing[^1].Offset, differing[^1].Length + 512);
                }
                else
                {
                    differing.Add((sector, 512));
                }
            }
        }

        JsonElement dump = Repl.Run("hrl", "dump", log, "--json").Json();
        Assert.Equal(2, dump.GetProperty("version").GetInt32());
        Assert.True(dump.GetProperty("closedCleanly").GetBoolean());
        Assert.Equal(diff.GetProperty("uniqueId").GetString(), dump.GetProperty("uniqueId").GetString());
        Assert.Equal(Guid.Empty.ToString(), dump.GetProperty("previousUniqueId").GetString());
        Assert.Equal(new FileInfo(log).Length, dump.GetProperty("eolLocation").GetInt64());
        Assert.Equal(4096, dump.GetProperty("metadataSize").GetInt32());
        Assert.Equal(differing.Sum(d => d.Length), dump.GetProperty("dataBytes").GetInt64());
        Assert.Equal(
            differing,
            dump.GetProperty("entries").EnumerateArray().Select(e => (e.GetProperty("offset").GetInt64(), e.GetProperty("length").GetInt64())).ToList());

        string undo = dir.File("undo.hrl");
        JsonElement applied = Repl.Run("hrl", "apply", a, log, "--undo", undo, "--json").Json();
        Assert.Equal(1, applied.GetProperty("logCount").GetInt32());
        Assert.Equal(differing.Sum(d => d.Length), applied.GetProperty("bytesWritten").GetInt64());
        Assert.Equal(after, File.ReadAllBytes(a));

        Repl.Run("hrl", "apply", a, undo, "--expect-previous", diff.GetProperty("uniqueId").GetString()!, "--json").Json();
        Assert.Equal(before, File.ReadAllBytes(a));
    }

    [Fact]
    public void Diff_with_previous_chains_and_apply_takes_logs_in_chain_order_only()
    {
        using var dir = new TempDirectory();
        byte[] v0 = DiskKinds.ScatteredContent(Size, 3);
        byte[] v1 = (byte[])v0.Clone();
        new Random(4).NextBytes(v1.AsSpan(1000, 3000));
        byte[] v2 = (byte[])v1.Clone();
        new Random(5).NextBytes(v2.AsSpan(2000, 60_000));
        string d0 = Disk(dir, "v0.img", v0);
        string d1 = Disk(dir, "v1.img", v1);
        string d2 = Disk(dir, "v2.img", v2);
        string first = dir.File("1.hrl");
        string second = dir.File("2.hrl");
        JsonElement one = Repl.Run("hrl", "diff", d0, d1, "-o", first, "--json").Json();
        JsonElement two = Repl.Run("hrl", "diff", d1, d2, "-o", second, "--previous", first, "--json").Json();
        Assert.Equal(one.GetProperty("uniqueId").GetString(), two.GetProperty("previousUniqueId").GetString());

        string replica = Disk(dir, "replica.img", v0);
        ExternalTool.Result wrongOrder = Repl.Run("hrl", "apply", replica, second, first, "--json");
        Assert.Equal(1, wrongOrder.ExitCode);
        Assert.Contains("does not continue the chain", Assert.Single(wrongOrder.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Equal(v0, File.ReadAllBytes(replica));

        JsonElement applied = Repl.Run("hrl", "apply", replica, first, second, "--expect-previous", Guid.Empty.ToString(), "--json").Json();
        Assert.Equal(two.GetProperty("uniqueId").GetString(), applied.GetProperty("lastUniqueId").GetString());
        Assert.Equal(v2, File.ReadAllBytes(replica));
    }

    [Fact]
    public void Dump_reads_the_specification_example_and_apply_takes_it_without_a_sidecar()
    {
        using var dir = new TempDirectory();
        string log = dir.File("example.hrl");
        File.WriteAllBytes(log, HrlSpecExampleTests.RenderExample());
        JsonElement dump = Repl.Run("hrl", "dump", log, "--json").Json();
        Assert.Equal(2, dump.GetProperty("version").GetInt32());
        Assert.Equal("572fc7ff-1f03-49ab-b3c5-30a665b8e20c", dump.GetProperty("uniqueId").GetString());
        Assert.Equal("a8ae4b46-f7ad-4402-87aa-5b33e9f89c77", dump.GetProperty("previousUniqueId").GetString());
        Assert.Equal("b9be5c57-f8be-5503-98bb-6c44faf9ac87", dump.GetProperty("vhd2DataWriteGuid").GetString());
        Assert.Equal(332288, dump.GetProperty("eolLocation").GetInt64());
        Assert.Equal(320000, dump.GetProperty("dataBytes").GetInt64());
        JsonElement[] entries = [.. dump.GetProperty("entries").EnumerateArray()];
        Assert.Equal(58, entries.Length);
        Assert.Equal(3626348544, entries[0].GetProperty("offset").GetInt64());
        Assert.Equal(4096, entries[0].GetProperty("length").GetInt64());
        // 539842381 s after 2000-01-01 is 8 February 2017 (the specification prints it day first: "8/ 2/2017").
        Assert.Equal("2017-02-08T04:13:01Z", entries[0].GetProperty("timestamp").GetString());

        // Hyper-V writes no sidecar: refused by default, applied when allowed (to a sparse 16 GiB disk).
        string disk = dir.File("big.img");
        VirtualDisk.Create(disk, new DiskCreateOptions { Format = DiskFormat.Raw, Type = DiskType.Fixed, VirtualSize = 16L << 30 }).Dispose();
        Assert.Equal(1, Repl.Run("hrl", "apply", disk, log, "--json").ExitCode);
        JsonElement applied = Repl.Run("hrl", "apply", disk, log, "--allow-missing-sidecar", "--json").Json();
        Assert.Equal(58, applied.GetProperty("entryCount").GetInt32());
        Assert.True(applied.GetProperty("bytesWritten").GetInt64() < 320000, "the example writes some offsets more than once");
        // Each entry's data is filled with its MetaDataId (1 to 58, in log order): every byte holds the last writer's.
        using VirtualDisk result = VirtualDisk.Open(disk, DiskOpenOptions.ReadOnlyAccess);
        byte[] sector = new byte[512];
        foreach (long offset in entries.Select(e => e.GetProperty("offset").GetInt64()).Distinct())
        {
            int last = Array.FindLastIndex(entries, e => e.GetProperty("offset").GetInt64() <= offset && offset < e.GetProperty("offset").GetInt64() + e.GetProperty("length").GetInt64());
            result.Read(offset, sector);
            Assert.All(sector, b => Assert.Equal(last + 1, b));
        }
    }

    [Fact]
    public async Task Dump_reads_a_log_left_open_up_to_its_last_complete_batch()
    {
        using var dir = new TempDirectory();
        string path = Disk(dir, "disk.img", new byte[Size]);
        string logs = dir.File("logs");
        var disk = TrackedDisk.Open(VirtualDisk.Open(path), logs);
        disk.Write(0, new byte[4096]);
        disk.Write(8192, new byte[512]);
        await disk.FlushAsync();
        disk.Write(65536, new byte[4096]);
        disk.Abandon();

        string active = Directory.GetFiles(logs, "*.active").Single();
        JsonElement dump = Repl.Run("hrl", "dump", active, "--json").Json();
        Assert.False(dump.GetProperty("closedCleanly").GetBoolean());
        Assert.Equal(0, dump.GetProperty("eolLocation").GetInt64());
        Assert.Equal(2, dump.GetProperty("entryCount").GetInt32());
        Assert.Equal(4608, dump.GetProperty("dataBytes").GetInt64());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Dump_refuses_data_that_does_not_match_its_entry_checksum_naming_the_entry_and_offset(bool withSidecar)
    {
        using var dir = new TempDirectory();
        string log = SealedLog(dir, "data.hrl", withSidecar);
        HrlRecord second;
        using (HrlReader reader = HrlReader.Open(log))
        {
            second = reader.ReadRecords().ElementAt(1);
        }

        byte[] bytes = File.ReadAllBytes(log);
        bytes[second.FileOffset + 100] ^= 0x40;
        File.WriteAllBytes(log, bytes);

        ExternalTool.Result result = Repl.Run("hrl", "dump", log, "--json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"HRL data DataChecksum at offset {second.FileOffset}", line, StringComparison.Ordinal);
        Assert.Contains($"record 1 ({second.Length} bytes for disk offset {second.DiskOffset})", line, StringComparison.Ordinal);

        // --no-verify reads the structures only, for speed.
        JsonElement structureOnly = Repl.Run("hrl", "dump", log, "--no-verify", "--json").Json();
        Assert.Equal(3, structureOnly.GetProperty("entryCount").GetInt32());
        Assert.False(structureOnly.GetProperty("verified").GetBoolean());
    }

    [Fact]
    public void Dump_checks_the_sidecar_when_one_exists_and_catches_what_the_entry_checksums_cannot()
    {
        using var dir = new TempDirectory();
        string log = SealedLog(dir, "swapped.hrl", withSidecar: true);
        JsonElement intact = Repl.Run("hrl", "dump", log, "--json").Json();
        Assert.True(intact.GetProperty("verified").GetBoolean());
        Assert.Equal(3, intact.GetProperty("dataChecksumsVerified").GetInt32());
        Assert.True(intact.GetProperty("sidecarVerified").GetBoolean());

        // Two data bytes swapped: the byte-sum data checksum is unchanged, the XxHash128 is not.
        HrlRecord first;
        using (HrlReader reader = HrlReader.Open(log))
        {
            first = reader.ReadRecords().First();
        }

        byte[] bytes = File.ReadAllBytes(log);
        int a = (int)first.FileOffset;
        int b = Enumerable.Range(a + 1, (int)first.Length - 1).First(i => bytes[i] != bytes[a]);
        (bytes[a], bytes[b]) = (bytes[b], bytes[a]);
        File.WriteAllBytes(log, bytes);

        ExternalTool.Result result = Repl.Run("hrl", "dump", log, "--json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("XxHash128", line, StringComparison.Ordinal);
        Assert.Contains(log, line, StringComparison.Ordinal);

        // Without a sidecar only the entry checksums can be checked, and they pass: said so in the report.
        File.Delete(HrlIntegrity.GetSidecarPath(log));
        JsonElement noSidecar = Repl.Run("hrl", "dump", log, "--json").Json();
        Assert.True(noSidecar.GetProperty("verified").GetBoolean());
        Assert.False(noSidecar.GetProperty("sidecarVerified").GetBoolean());
    }

    [Fact]
    public void Apply_of_a_log_without_a_sidecar_names_the_option_that_allows_it()
    {
        using var dir = new TempDirectory();
        string log = SealedLog(dir, "hyperv.hrl", withSidecar: false);
        File.WriteAllBytes(dir.File("disk.img"), new byte[Size]);
        ExternalTool.Result result = Repl.Run("hrl", "apply", dir.File("disk.img"), log, "--json");
        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--allow-missing-sidecar", line, StringComparison.Ordinal);
        Assert.Contains(log, line, StringComparison.Ordinal);
        Assert.Equal(new byte[Size], File.ReadAllBytes(dir.File("disk.img")));
    }

    /// <summary>A sealed log of three records (1 KiB, 4 KiB, 2 KiB of random data), written by this library.</summary>
    private static string SealedLog(TempDirectory dir, string name, bool withSidecar)
    {
        string path = dir.File(name);
        var random = new Random(name.Length);
        using (HrlWriter writer = HrlWriter.Create(path, new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), new ManualTimeProvider(HrlTestLogs.Start)))
        {
            foreach ((long offset, int length) in new[] { (0L, 1024), (65536L, 4096), (8192L, 2048) })
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                writer.Append(offset, data);
            }

            writer.Seal();
        }

        if (withSidecar)
        {
            HrlIntegrity.WriteSidecar(path);
        }

        return path;
    }

    [Theory]
    [InlineData("dump", "{dir}/missing.hrl")]
    [InlineData("dump", "{dir}/corrupt.hrl")]
    [InlineData("apply", "{dir}/disk.img", "{dir}/corrupt.hrl")]
    [InlineData("apply", "{dir}/disk.img", "{dir}/nosidecar.hrl")]
    [InlineData("apply", "{dir}/disk.img", "{dir}/nosidecar.hrl", "--allow-missing-sidecar", "--expect-previous", "11111111-1111-1111-1111-111111111111")]
    [InlineData("diff", "{dir}/disk.img", "{dir}/small.img", "-o", "{dir}/out.hrl")]
    [InlineData("diff", "{dir}/disk.img", "{dir}/disk.img", "-o", "{dir}/nosidecar.hrl")]
    [InlineData("apply", "{dir}/disk.img")]
    public void Failures_exit_non_zero_with_one_line_naming_what_is_wrong(params string[] args)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("disk.img"), new byte[Size]);
        File.WriteAllBytes(dir.File("small.img"), new byte[Size / 2]);
        var clock = new ManualTimeProvider(HrlTestLogs.Start);
        using (HrlWriter writer = HrlWriter.Create(dir.File("nosidecar.hrl"), new HrlLogIdentity(Guid.NewGuid(), Guid.Empty, Guid.Empty), clock))
        {
            writer.Append(0, new byte[512]);
            writer.Seal();
        }

        // The one entry's ByteOffset: header (4096) + data (512) + metadata header (32).
        byte[] corrupt = File.ReadAllBytes(dir.File("nosidecar.hrl"));
        corrupt[4096 + 512 + 32] ^= 1;
        File.WriteAllBytes(dir.File("corrupt.hrl"), corrupt);

        ExternalTool.Result result = Repl.Run(["hrl", .. args.Select(a => a.Replace("{dir}", dir.Path, StringComparison.Ordinal)), "--json"]);
        Assert.NotEqual(0, result.ExitCode);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("repl: ", line, StringComparison.Ordinal);
        Assert.Equal("", result.StandardOutput);
        if (args[0] == "dump" && args[^1].EndsWith("corrupt.hrl", StringComparison.Ordinal))
        {
            Assert.Contains("HRL metadata entry Checksum at offset 4648", line, StringComparison.Ordinal);
        }

        Assert.Equal(new byte[Size], File.ReadAllBytes(dir.File("disk.img")));
    }
}
