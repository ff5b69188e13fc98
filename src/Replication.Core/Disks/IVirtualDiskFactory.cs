namespace Replication.Core.Disks;

/// <summary>Opens and creates virtual disks; the seam for code that takes disks through dependency injection.</summary>
public interface IVirtualDiskFactory
{
    /// <summary>Opens a disk of any format, detected from content. See <see cref="VirtualDisk.Open"/>.</summary>
    IVirtualDisk Open(string path, DiskOpenOptions? options = null);

    /// <summary>Creates a new disk. See <see cref="VirtualDisk.Create"/>.</summary>
    IVirtualDisk Create(string path, DiskCreateOptions options);
}
