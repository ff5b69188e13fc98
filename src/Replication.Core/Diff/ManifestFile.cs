using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>
/// A block manifest kept in a file beside a disk (<c>repl disk sync</c>'s <c>--target-manifest</c>), stamped with the
/// disk's <see cref="DiskStamp"/> (the file's identity and change times, the VHDX DataWriteGuid): given out only while
/// the stamp matches, unless the stamp is not to be checked.
/// </summary>
public sealed class ManifestFile : IManifestStore
{
    private readonly IVirtualDisk _disk;
    private readonly bool _checkStamp;

    /// <summary>Keeps the manifest of <paramref name="disk"/> in <paramref name="path"/>.</summary>
    /// <param name="path">The manifest file; it need not exist.</param>
    /// <param name="disk">The disk it describes.</param>
    /// <param name="checkStamp">
    /// True (the default) to give the manifest out only while the disk's stamp matches the one recorded with it; false
    /// for a disk whose files were copied or touched (then only a sample re-hashed by the caller catches a change).
    /// </param>
    public ManifestFile(string path, IVirtualDisk disk, bool checkStamp = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(disk);
        Path = System.IO.Path.GetFullPath(path);
        _disk = disk;
        _checkStamp = checkStamp;
    }

    /// <summary>The manifest file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    /// <remarks>A manifest that is corrupt or unreadable is not given out either; the reason names the file and what is wrong.</remarks>
    public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(Path))
        {
            return ValueTask.FromResult(StoredManifest.None($"{Path}: no manifest is stored."));
        }

        try
        {
            using (BlockManifest manifest = BlockManifest.Open(Path))
            {
                if (_checkStamp && !manifest.IsCurrentFor(_disk))
                {
                    return ValueTask.FromResult(StoredManifest.None($"{Path}: the target changed since its manifest was written (stamp differs)"));
                }
            }

            Stream content = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1 << 16, FileOptions.Asynchronous);
            return ValueTask.FromResult(StoredManifest.Current(content, Path));
        }
        catch (InvalidManifestException ex)
        {
            return ValueTask.FromResult(StoredManifest.None(ex.Message));
        }
    }

    /// <inheritdoc />
    /// <remarks>The manifest is stamped for the disk as it is now; flush the disk first.</remarks>
    public async ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        DiskStamp stamp = DiskStamp.Of(_disk);
        await DurableFile.WriteAsync(
            Path,
            async (file, ct) =>
            {
                await content.CopyToAsync(file, ct).ConfigureAwait(false);
                byte[] header = new byte[ManifestHeader.Size];
                file.Position = 0;
                await file.ReadExactlyAsync(header, ct).ConfigureAwait(false);
                ManifestHeader read = ManifestHeader.Read(header, Path);
                new ManifestHeader(read.IsPartial, read.VirtualSize, read.CoarseBlockSize, read.FineBlockSize, stamp, read.TableChecksum).WriteTo(header);
                file.Position = 0;
                await file.WriteAsync(header, ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        DurableFile.Delete(Path);
        return ValueTask.CompletedTask;
    }
}
