using System.Text.Json;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>repl disk manifest, diff and sync as a user runs them: --json output, exit codes, one-line errors.</summary>
public sealed class DiskSyncVerbTests
{
    [Fact]
    public void Manifest_reports_blocks_zero_blocks_and_bytes_hashed()
    {
        using var dir = new TempDirectory();
        byte[] content = new byte[8 << 20];
        new Random(1).NextBytes(content.AsSpan(1 << 20, 3 << 20));
        string disk = SyncDisks.Create(dir, "disk", DiskFormat.Raw, content);

        JsonElement json = Repl.Run("disk", "manifest", disk, "-o", dir.File("disk.manifest"), "--json").Json();
        Assert.Equal(8, json.GetProperty("blocks").GetInt32());
        Assert.Equal(5, json.GetProperty("zeroBlocks").GetInt32());
        Assert.Equal(3L << 20, json.GetProperty("bytesHashed").GetInt64());
        Assert.Equal(3L << 20, json.GetProperty("bytesRead").GetInt64());
        Assert.Equal(1 << 20, json.GetProperty("blockSize").GetInt32());
        Assert.Equal(4096, json.GetProperty("fineBlockSize").GetInt32());
        Assert.Equal(new FileInfo(dir.File("disk.manifest")).Length, json.GetProperty("manifestFileBytes").GetInt64());

        JsonElement small = Repl.Run("disk", "manifest", disk, "--output", dir.File("small.manifest"), "--block-size", "256KiB", "--fine-block-size", "512", "--json").Json();
        Assert.Equal(32, small.GetProperty("blocks").GetInt32());
        Assert.Equal(20, small.GetProperty("zeroBlocks").GetInt32());
        Assert.Equal(512, small.GetProperty("fineBlockSize").GetInt32());
    }

    [Fact]
    public void Diff_reports_the_changed_bytes_as_merged_ascending_ranges_for_disks_or_manifests()
    {
        using var dir = new TempDirectory();
        (byte[] a, byte[] b) = Pair(2);
        string pathA = SyncDisks.Create(dir, "a", DiskFormat.Raw, a);
        string pathB = SyncDisks.Create(dir, "b", DiskFormat.Raw, b);
        List<DiskExtent> expected = DiffModel.ExpectedRanges(a, b, 4096);

        JsonElement json = Repl.Run("disk", "diff", pathA, pathB, "--json").Json();
        Assert.Equal(expected.Sum(r => r.Length), json.GetProperty("changedBytes").GetInt64());
        Assert.Equal(expected.Select(r => new[] { r.Offset, r.Length }), Ranges(json));
        Assert.Equal(a.Length, json.GetProperty("bytesCompared").GetInt64());

        Repl.Run("disk", "manifest", pathA, "-o", dir.File("a.manifest"), "--json").Json();
        JsonElement fromManifest = Repl.Run("disk", "diff", dir.File("a.manifest"), pathB, "--manifest", "a", "--json").Json();
        Assert.Equal(Ranges(json), Ranges(fromManifest));
        Repl.Run("disk", "manifest", pathB, "-o", dir.File("b.manifest"), "--json").Json();
        JsonElement bothManifests = Repl.Run("disk", "diff", dir.File("a.manifest"), dir.File("b.manifest"), "--manifest", "a", "--manifest", "b", "--json").Json();
        Assert.Equal(Ranges(json), Ranges(bothManifests));

        // A manifest passed where a disk is expected is refused with a pointer to the option.
        ExternalTool.Result asDisk = Repl.Run("disk", "diff", pathA, dir.File("b.manifest"), "--json");
        Assert.Equal(1, asDisk.ExitCode);
        Assert.Contains("--manifest b", Assert.Single(asDisk.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);

        JsonElement fine = Repl.Run("disk", "diff", pathA, pathB, "--block-size", "64KiB", "--fine-block-size", "1KiB", "--json").Json();
        Assert.Equal(DiffModel.ExpectedRanges(a, b, 1024).Select(r => new[] { r.Offset, r.Length }), Ranges(fine));
    }

    [Fact]
    public void Diff_detects_disk_formats_as_info_does_even_when_a_raw_disk_starts_with_the_manifest_magic()
    {
        using var dir = new TempDirectory();
        (byte[] a, byte[] b) = Pair(3);
        "REPLMFST"u8.CopyTo(a);
        "REPLMFST"u8.CopyTo(b);
        string pathA = SyncDisks.Create(dir, "a", DiskFormat.Raw, a);
        string pathB = SyncDisks.Create(dir, "b", DiskFormat.Vhdx, b);
        Assert.Equal("raw", Repl.Run("disk", "info", pathA, "--json").Json().GetProperty("format").GetString());

        JsonElement json = Repl.Run("disk", "diff", pathA, pathB, "--json").Json();
        List<DiskExtent> expected = DiffModel.ExpectedRanges(a, b, 4096);
        Assert.Equal(expected.Select(r => new[] { r.Offset, r.Length }), Ranges(json));
        Assert.Equal(a.Length, json.GetProperty("bytesCompared").GetInt64());
    }

    [Theory]
    [InlineData("manifest", "{dir}/empty.img", "-o", "{dir}/empty.manifest")]
    [InlineData("diff", "{dir}/empty.img", "{dir}/empty2.img")]
    [InlineData("sync", "{dir}/empty.img", "{dir}/empty2.img")]
    public void An_empty_disk_is_refused_plainly_and_nothing_is_left_behind(params string[] args)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("empty.img"), []);
        File.WriteAllBytes(dir.File("empty2.img"), []);
        ExternalTool.Result result = Repl.Run(["disk", .. args.Select(a => a.Replace("{dir}", dir.Path, StringComparison.Ordinal)), "--json"]);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"repl: {dir.File("empty.img")}: the disk is empty (0 bytes)", line, StringComparison.Ordinal);
        Assert.Equal(["empty.img", "empty2.img"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }

    [Theory]
    [MemberData(nameof(SyncDisks.Pairs), MemberType = typeof(SyncDisks))]
    public void Sync_dry_run_then_sync_then_sync_again(DiskFormat sourceFormat, DiskFormat targetFormat)
    {
        using var dir = new TempDirectory();
        (byte[] source, byte[] target) = Pair(3);
        string sourcePath = SyncDisks.Create(dir, "source", sourceFormat, source);
        string targetPath = SyncDisks.Create(dir, "target", targetFormat, target);
        List<DiskExtent> expected = DiffModel.ExpectedRanges(source, target, 4096);
        long differing = expected.Sum(r => r.Length);
        long zero = DiffModel.ZeroBytes(source, target, 4096);

        JsonElement dry = Repl.Run("disk", "sync", sourcePath, targetPath, "--dry-run", "--json").Json();
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        Assert.Equal(differing, dry.GetProperty("bytesDiffering").GetInt64());
        Assert.Equal(differing - zero, dry.GetProperty("dataBytesSent").GetInt64());
        Assert.Equal(0, dry.GetProperty("bytesWritten").GetInt64());
        Assert.Equal(target, SyncDisks.ReadAll(targetPath));
        Assert.False(File.Exists(targetPath + ".manifest"));

        JsonElement sync = Repl.Run("disk", "sync", sourcePath, targetPath, "--json").Json();
        Assert.Equal(source.Length, sync.GetProperty("bytesCompared").GetInt64());
        Assert.Equal(differing, sync.GetProperty("bytesDiffering").GetInt64());
        Assert.Equal(differing - zero, sync.GetProperty("dataBytesSent").GetInt64());
        Assert.Equal(differing, sync.GetProperty("bytesWritten").GetInt64());
        Assert.Equal(dry.GetProperty("manifestBytes").GetInt64(), sync.GetProperty("manifestBytes").GetInt64());
        Assert.InRange(sync.GetProperty("manifestBytes").GetInt64(), 1, differing);
        Assert.Equal(
            DiffModel.ManifestBytes(source, target, ManifestOptions.DefaultCoarseBlockSize, ManifestOptions.DefaultFineBlockSize),
            sync.GetProperty("manifestBytes").GetInt64());
        Assert.Equal("rebuilt", sync.GetProperty("targetManifest").GetString());
        Assert.Equal(source, SyncDisks.ReadAll(targetPath));
        Assert.True(File.Exists(targetPath + ".manifest"));
        Assert.False(File.Exists(targetPath + ".sync"));

        JsonElement again = Repl.Run("disk", "sync", sourcePath, targetPath, "--json").Json();
        Assert.Equal("verified", again.GetProperty("targetManifest").GetString());
        Assert.Equal(0, again.GetProperty("bytesDiffering").GetInt64());
        Assert.Equal(0, again.GetProperty("dataBytesSent").GetInt64());
        Assert.Equal(0, again.GetProperty("bytesWritten").GetInt64());
    }

    [Fact]
    public void Sync_honours_the_manifest_and_checkpoint_paths_and_the_policy()
    {
        using var dir = new TempDirectory();
        (byte[] source, byte[] target) = Pair(4);
        string sourcePath = SyncDisks.Create(dir, "source", DiskFormat.Raw, source);
        string targetPath = SyncDisks.Create(dir, "target", DiskFormat.Raw, target);
        Repl.Run("disk", "sync", sourcePath, targetPath, "--target-manifest", dir.File("t.m"), "--checkpoint", dir.File("cp"), "--json").Json();
        Assert.True(File.Exists(dir.File("t.m")));
        JsonElement rebuilt = Repl.Run("disk", "sync", sourcePath, targetPath, "--target-manifest", dir.File("t.m"), "--target-manifest-policy", "rebuild", "--json").Json();
        Assert.Equal("rebuilt", rebuilt.GetProperty("targetManifest").GetString());
        JsonElement sampled = Repl.Run("disk", "sync", sourcePath, targetPath, "--target-manifest", dir.File("t.m"), "--target-manifest-policy", "sample", "--json").Json();
        Assert.Equal("verified", sampled.GetProperty("targetManifest").GetString());
    }

    [Theory]
    [InlineData("disk", "manifest", "{dir}/a.img", "-o", "{dir}/m", "--block-size", "3000")]
    [InlineData("disk", "manifest", "{dir}/a.img", "-o", "{dir}/m", "--block-size", "4KiB", "--fine-block-size", "8KiB")]
    [InlineData("disk", "manifest", "{dir}/a.img", "-o", "{dir}/m", "--block-size", "128MiB")]
    [InlineData("disk", "manifest", "{dir}/missing.img", "-o", "{dir}/m")]
    [InlineData("disk", "manifest", "{dir}/a.img")]
    [InlineData("disk", "diff", "{dir}/a.img", "{dir}/big.img")]
    [InlineData("disk", "diff", "{dir}/corrupt.manifest", "{dir}/a.img", "--manifest", "a")]
    [InlineData("disk", "diff", "{dir}/a.img", "{dir}/a.img", "--manifest", "c")]
    [InlineData("disk", "diff", "{dir}/a.img", "{dir}/a.img", "--fine-block-size", "700")]
    [InlineData("disk", "diff", "{dir}/a.manifest", "{dir}/b.img", "--manifest", "a", "--block-size", "256KiB")]
    [InlineData("disk", "sync", "{dir}/a.img", "{dir}/big.img")]
    [InlineData("disk", "sync", "{dir}/a.img", "{dir}/b.img", "--target-manifest-policy", "always")]
    [InlineData("disk", "sync", "{dir}/a.img", "{dir}/b.img", "--checkpoint", "{dir}/bad.sync")]
    public void Failures_exit_non_zero_with_one_line_on_standard_error(params string[] args)
    {
        using var dir = new TempDirectory();
        SyncDisks.Create(dir, "a", DiskFormat.Raw, new byte[1 << 20]);
        SyncDisks.Create(dir, "b", DiskFormat.Raw, new byte[1 << 20]);
        SyncDisks.Create(dir, "big", DiskFormat.Raw, new byte[2 << 20]);
        File.WriteAllBytes(dir.File("corrupt.manifest"), [.. "REPLMFST"u8, .. new byte[200]]);
        File.WriteAllBytes(dir.File("bad.sync"), new byte[128]);
        Repl.Run("disk", "manifest", dir.File("a.img"), "-o", dir.File("a.manifest"), "--json").Json();
        ExternalTool.Result result = Repl.Run([.. args.Select(a => a.Replace("{dir}", dir.Path, StringComparison.Ordinal))]);
        Assert.NotEqual(0, result.ExitCode);
        string line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("repl: ", line, StringComparison.Ordinal);
        Assert.Equal("", result.StandardOutput);
    }

    private static (byte[] A, byte[] B) Pair(int seed)
    {
        var random = new Random(seed);
        byte[] a = DiffModel.Content(random, 6L << 20);
        random.NextBytes(a.AsSpan(0, 1 << 20));
        byte[] b = DiffModel.Changed(random, a);
        b.AsSpan(100_000, 3).Fill(0xEE);
        return (a, b);
    }

    private static List<long[]> Ranges(JsonElement json) =>
        [.. json.GetProperty("ranges").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt64()).ToArray())];
}
