using Replication.Core.IO;

namespace Replication.Core.Disks.Vhd;

/// <summary>Placeholder until the Vhd format lands.</summary>
public abstract class VhdDisk : VirtualDisk
{
    internal static VirtualDisk OpenImage(DiskFile file, DiskOpenContext context) =>
        throw new NotSupportedException($"{file.Path}: Vhd is not implemented yet ({context.Depth}).");

    internal static VirtualDisk CreateImage(string fullPath, DiskCreateOptions options, DiskOpenContext context) =>
        throw new NotSupportedException($"{fullPath}: Vhd is not implemented yet ({options.Format}, {context.Depth}).");
}
