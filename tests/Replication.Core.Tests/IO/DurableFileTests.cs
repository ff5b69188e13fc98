using Replication.Core.IO;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.IO;

// Kept beside the HRL tests (the sidecar is DurableFile's first user) until tests/IO exists on this branch.
public sealed class DurableFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WriteAllBytes_creates_then_replaces_and_leaves_no_temporary_file()
    {
        string path = _temp.File("state.bin");
        DurableFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));

        DurableFile.WriteAllBytes(path, [9, 8]);
        Assert.Equal(new byte[] { 9, 8 }, File.ReadAllBytes(path));
        Assert.Equal(["state.bin"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteAllBytes_replaces_a_file_that_a_reader_holds_open()
    {
        string path = _temp.File("state.bin");
        DurableFile.WriteAllBytes(path, [1]);
        using FileStream reader = File.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        DurableFile.WriteAllBytes(path, [2]);

        // The open reader keeps the old inode (rename semantics); new readers see the new contents.
        Assert.Equal(1, reader.ReadByte());
        Assert.Equal(new byte[] { 2 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_failed_write_leaves_the_target_and_no_temporary_file()
    {
        string missingFolder = Path.Combine(_temp.Path, "missing", "state.bin");
        Assert.ThrowsAny<IOException>(() => DurableFile.WriteAllBytes(missingFolder, [1]));
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void FlushDirectory_syncs_an_existing_directory_and_rejects_a_missing_one()
    {
        DurableFile.FlushDirectory(_temp.Path);
        Assert.Throws<DirectoryNotFoundException>(() => DurableFile.FlushDirectory(Path.Combine(_temp.Path, "nope")));
    }

    [Fact]
    public void Move_renames_durably_and_overwrites_when_asked()
    {
        string source = _temp.File("a.tmp");
        string destination = _temp.File("a.log");
        File.WriteAllBytes(source, [5]);
        File.WriteAllBytes(destination, [6]);
        Assert.ThrowsAny<IOException>(() => DurableFile.Move(source, destination, overwrite: false));

        DurableFile.Move(source, destination, overwrite: true);
        Assert.False(File.Exists(source));
        Assert.Equal(new byte[] { 5 }, File.ReadAllBytes(destination));
    }
}
