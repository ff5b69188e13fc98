namespace Replication.Core.Disks;

/// <summary>The default <see cref="IVirtualDiskFactory"/>, forwarding to <see cref="VirtualDisk"/>'s static factory.</summary>
public sealed class VirtualDiskFactory : IVirtualDiskFactory
{
    /// <inheritdoc />
    public IVirtualDisk Open(string path, DiskOpenOptions? options = null) => VirtualDisk.Open(path, options);

    /// <inheritdoc />
    public IVirtualDisk Create(string path, DiskCreateOptions options) => VirtualDisk.Create(path, options);
}
