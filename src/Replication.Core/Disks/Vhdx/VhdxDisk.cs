using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

/// <summary>Placeholder until the Vhdx format lands.</summary>
public abstract class VhdxDisk : VirtualDisk
{
    internal static VirtualDisk OpenImage(DiskFile file, DiskOpenContext context) =>
        throw new NotSupportedException($"{file.Path}: Vhdx is not implemented yet ({context.Depth}).");

    internal static VirtualDisk CreateImage(string fullPath, DiskCreateOptions options, DiskOpenContext context) =>
        throw new NotSupportedException($"{fullPath}: Vhdx is not implemented yet ({options.Format}, {context.Depth}).");
}
