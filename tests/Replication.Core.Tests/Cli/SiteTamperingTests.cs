using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// The invariant a user relies on most: whatever touched a site outside the tool, the next <c>repl upload</c> (and
/// <c>repl disk sync</c>) ends with a replica equal to the source, or refuses with one clear line. Each case seeds a
/// site, changes the source, touches the site in one way at a random place, uploads again and compares what the site
/// then holds with the source byte for byte.
/// </summary>
public sealed class SiteTamperingTests : IDisposable
{
    private const int Size = 8 << 20;
    private readonly TempDirectory _dir = new();

    public enum Touch
    {
        /// <summary>Random bytes written into the replica's data (an operator's dd, a stray tool).</summary>
        Write,

        /// <summary>The same, then the file's modification time set back (a tool that restores timestamps).</summary>
        WriteKeepingMtime,

        /// <summary>Only the modification time set back.</summary>
        MtimeReset,

        /// <summary>The replica cut short.</summary>
        Truncate,

        /// <summary>Bytes appended to the replica.</summary>
        Extend,

        /// <summary>The replica replaced by another disk of the same size and format (a restored backup).</summary>
        Replace,

        /// <summary>The stored manifest deleted.</summary>
        DeleteManifest,

        /// <summary>The manifest of another site's replica put in place of this one's.</summary>
        ForeignManifest,

        /// <summary>A replica of another format created beside the site's one.</summary>
        SecondFormat,
    }

    public static TheoryData<Touch, int> LocalCases() => Cases(Enum.GetValues<Touch>());

    public static TheoryData<Touch, int> AzureCases() =>
        Cases([Touch.Write, Touch.Truncate, Touch.Extend, Touch.Replace, Touch.DeleteManifest, Touch.ForeignManifest]);

    public static TheoryData<Touch, int> SyncCases() =>
        Cases([Touch.Write, Touch.WriteKeepingMtime, Touch.MtimeReset, Touch.Truncate, Touch.Extend, Touch.Replace, Touch.DeleteManifest, Touch.ForeignManifest]);

    [Theory]
    [MemberData(nameof(LocalCases))]
    public void Upload_to_a_local_site_touched_outside_the_tool_ends_equal_or_refuses(Touch touch, int seed)
    {
        var random = new Random(seed);
        string source = NewSource(random);
        string site = _dir.File("site");
        Repl.Run("upload", source, "--target", site, "--create", "--json").Json();
        string other = _dir.File("other-site");
        if (touch == Touch.ForeignManifest)
        {
            Repl.Run("upload", NewSource(new Random(seed + 1), "other.raw"), "--target", other, "--create", "--json").Json();
        }

        ChangeSource(source, random);
        string replica = Path.Combine(site, "replica.vhd");
        switch (touch)
        {
            case Touch.DeleteManifest:
                File.Delete(Path.Combine(site, "manifest"));
                break;
            case Touch.ForeignManifest:
                File.Copy(Path.Combine(other, "manifest"), Path.Combine(site, "manifest"), overwrite: true);
                break;
            case Touch.SecondFormat:
                Repl.Run("disk", "create", Path.Combine(site, "replica.vhdx"), "--size", Size.ToString(System.Globalization.CultureInfo.InvariantCulture), "--format", "vhdx", "--type", "fixed", "--json").Json();
                break;
            default:
                TouchFile(replica, touch, random, dataLength: Size);
                break;
        }

        ExternalTool.Result upload = Repl.Run("upload", source, "--target", site, "--json");
        if (touch is Touch.Truncate or Touch.Extend or Touch.SecondFormat)
        {
            AssertRefusedInOneLine(upload);
            return;
        }

        Assert.True(upload.ExitCode == 0, $"upload after {touch} failed: {upload.StandardError}");
        string back = _dir.File("back.raw");
        Repl.Run("download", "--target", site, back, "--format", "raw", "--json").Json();
        DiskAssert.FilesEqual(source, back);
    }

    [Theory]
    [MemberData(nameof(AzureCases))]
    public async Task Upload_to_an_azure_site_touched_outside_the_tool_ends_equal_or_refuses(Touch touch, int seed)
    {
        var random = new Random(seed);
        string source = NewSource(random);
        string container = await Azurite.NewContainerAsync();
        string[] site = ["--connection-string", Azurite.ConnectionString, "--container", container, "--blob", "disk.vhd"];
        Repl.Run(["upload", source, .. site, "--json"]).Json();
        var containerClient = new BlobContainerClient(Azurite.ConnectionString, container);
        if (touch == Touch.ForeignManifest)
        {
            Repl.Run(["upload", NewSource(new Random(seed + 1), "other.raw"), "--connection-string", Azurite.ConnectionString, "--container", container, "--blob", "other.vhd", "--json"]).Json();
        }

        ChangeSource(source, random);
        PageBlobClient blob = containerClient.GetPageBlobClient("disk.vhd");
        BlobProperties properties = (await blob.GetPropertiesAsync()).Value;
        switch (touch)
        {
            case Touch.Write:
                byte[] bytes = new byte[512 * random.Next(1, 9)];
                random.NextBytes(bytes);
                long offset = random.Next(0, (Size - bytes.Length) / 512) * 512L;
                await blob.UploadPagesAsync(new MemoryStream(bytes), offset);
                break;
            case Touch.Truncate:
                await blob.ResizeAsync(properties.ContentLength - (512L * random.Next(1, 2048)));
                break;
            case Touch.Extend:
                await blob.ResizeAsync(properties.ContentLength + (512L * random.Next(1, 2048)));
                break;
            case Touch.Replace:
                // A restored backup: the same size and a valid footer, but other bytes, and none of the tool's metadata.
                string replacement = NewSource(new Random(seed + 2), "replacement.raw");
                string staging = await Azurite.NewContainerAsync();
                Repl.Run("upload", replacement, "--connection-string", Azurite.ConnectionString, "--container", staging, "--blob", "disk.vhd", "--json").Json();
                PageBlobClient restored = new BlobContainerClient(Azurite.ConnectionString, staging).GetPageBlobClient("disk.vhd");
                await blob.DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots);
                await blob.CreateAsync(properties.ContentLength);
                byte[] all = new byte[properties.ContentLength];
                await (await restored.DownloadStreamingAsync()).Value.Content.ReadExactlyAsync(all);
                for (long at = 0; at < all.Length; at += 4 << 20)
                {
                    int n = (int)Math.Min(4 << 20, all.Length - at);
                    await blob.UploadPagesAsync(new MemoryStream(all, (int)at, n), at);
                }

                break;
            case Touch.DeleteManifest:
                await containerClient.GetBlobClient(properties.Metadata["repl_manifest"]).DeleteAsync();
                break;
            case Touch.ForeignManifest:
                BlobProperties others = (await containerClient.GetPageBlobClient("other.vhd").GetPropertiesAsync()).Value;
                var metadata = new Dictionary<string, string>(properties.Metadata) { ["repl_manifest"] = others.Metadata["repl_manifest"] };
                await blob.SetMetadataAsync(metadata);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(touch), touch, "not a way to touch a page blob");
        }

        ExternalTool.Result upload = Repl.Run(["upload", source, .. site, "--json"]);
        if (touch is Touch.Truncate or Touch.Extend)
        {
            AssertRefusedInOneLine(upload);
            return;
        }

        Assert.True(upload.ExitCode == 0, $"upload after {touch} failed: {upload.StandardError}");
        string back = _dir.File("back.raw");
        Repl.Run(["download", .. site, back, "--format", "raw", "--json"]).Json();
        DiskAssert.FilesEqual(source, back);
    }

    [Theory]
    [MemberData(nameof(SyncCases))]
    public void Disk_sync_to_a_target_touched_outside_the_tool_ends_equal_or_refuses(Touch touch, int seed)
    {
        var random = new Random(seed);
        string source = NewSource(random);
        string target = _dir.File("target.vhd");
        Repl.Run("disk", "convert", NewSource(new Random(seed + 3), "old.raw"), target, "--format", "vhd", "--type", "fixed", "--json").Json();
        Repl.Run("disk", "sync", source, target, "--json").Json();
        if (touch == Touch.ForeignManifest)
        {
            string other = _dir.File("other.vhd");
            Repl.Run("disk", "convert", NewSource(new Random(seed + 1), "other.raw"), other, "--format", "vhd", "--type", "fixed", "--json").Json();
            Repl.Run("disk", "sync", NewSource(new Random(seed + 4), "other-source.raw"), other, "--json").Json();
            File.Copy(other + ".manifest", target + ".manifest", overwrite: true);
        }

        ChangeSource(source, random);
        switch (touch)
        {
            case Touch.DeleteManifest:
                File.Delete(target + ".manifest");
                break;
            case Touch.ForeignManifest:
                break;
            default:
                TouchFile(target, touch, random, dataLength: Size);
                break;
        }

        ExternalTool.Result sync = Repl.Run("disk", "sync", source, target, "--json");
        if (touch is Touch.Truncate or Touch.Extend)
        {
            AssertRefusedInOneLine(sync);
            return;
        }

        Assert.True(sync.ExitCode == 0, $"sync after {touch} failed: {sync.StandardError}");
        string back = _dir.File("back.raw");
        Repl.Run("disk", "convert", target, back, "--format", "raw", "--json").Json();
        DiskAssert.FilesEqual(source, back);
    }

    public void Dispose() => _dir.Dispose();

    private static TheoryData<Touch, int> Cases(IEnumerable<Touch> touches)
    {
        // Two random places per way of touching, the same on every run (seeds fixed) so that a failure reproduces.
        var data = new TheoryData<Touch, int>();
        foreach (Touch touch in touches)
        {
            data.Add(touch, 1000 + (int)touch);
            data.Add(touch, 2000 + (int)touch);
        }

        return data;
    }

    private string NewSource(Random random, string name = "source.raw")
    {
        string path = _dir.File(name);
        byte[] content = DiskKinds.ScatteredContent(Size, random.Next());
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>A few 4 KiB pages of the source rewritten: a stale replica would miss them.</summary>
    private static void ChangeSource(string source, Random random)
    {
        using var file = new FileStream(source, FileMode.Open, FileAccess.Write);
        for (int i = 0; i < 3; i++)
        {
            byte[] page = new byte[4096];
            random.NextBytes(page);
            file.Position = random.Next(0, Size / 4096) * 4096L;
            file.Write(page);
        }
    }

    private void TouchFile(string path, Touch touch, Random random, long dataLength)
    {
        DateTime mtime = File.GetLastWriteTimeUtc(path);
        switch (touch)
        {
            case Touch.Write:
            case Touch.WriteKeepingMtime:
                using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
                {
                    byte[] bytes = new byte[random.Next(1, 9000)];
                    random.NextBytes(bytes);
                    file.Position = random.NextInt64(0, dataLength - bytes.Length);
                    file.Write(bytes);
                }

                if (touch == Touch.WriteKeepingMtime)
                {
                    File.SetLastWriteTimeUtc(path, mtime);
                }

                break;
            case Touch.MtimeReset:
                File.SetLastWriteTimeUtc(path, mtime.AddMinutes(-random.Next(1, 100)));
                break;
            case Touch.Truncate:
                using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
                {
                    file.SetLength(file.Length - random.Next(1, 1 << 20));
                }

                break;
            case Touch.Extend:
                using (var file = new FileStream(path, FileMode.Append, FileAccess.Write))
                {
                    byte[] bytes = new byte[random.Next(1, 1 << 20)];
                    random.NextBytes(bytes);
                    file.Write(bytes);
                }

                break;
            case Touch.Replace:
                // A restored backup: another fixed VHD of the same size, moved over the replica.
                string replacement = path + ".restored.vhd";
                Repl.Run("disk", "convert", NewSource(new Random(random.Next()), "restored.raw"), replacement, "--format", "vhd", "--type", "fixed", "--json").Json();
                File.Move(replacement, path, overwrite: true);
                File.SetLastWriteTimeUtc(path, mtime);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(touch), touch, "not a way to touch a file");
        }
    }

    private static void AssertRefusedInOneLine(ExternalTool.Result result)
    {
        Assert.NotEqual(0, result.ExitCode);
        string[] lines = result.StandardError.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("repl: ", StringComparison.Ordinal), $"expected one line on standard error, got:\n{result.StandardError}");
        Assert.Equal("", result.StandardOutput);
    }
}
