using Replication.Core.Disks.Raw;
using Replication.Core.Disks.Vhd;
using Replication.Core.Disks.Vhdx;
using Replication.Core.IO;

namespace Replication.Core.Disks;

public abstract partial class VirtualDisk
{
    /// <summary>
    /// Opens a disk of any format, detected from the file's content (never from its name): "vhdxfile" at offset 0 is
    /// VHDX; a "conectix" footer copy at offset 0 or footer at the end is VHD; anything else is raw. A differencing disk
    /// opens its parents read-only.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">The file, or a parent, is corrupt or not a valid image.</exception>
    /// <exception cref="ReplicationException">The file or a parent does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static VirtualDisk Open(string path, DiskOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        return OpenCore(full, DiskOpenContext.ForRoot(options ?? DiskOpenOptions.Default, full));
    }

    /// <summary>Detects the format of an image file from its content.</summary>
    public static DiskFormat DetectFormat(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using DiskFile file = DiskFile.Open(path, writable: false);
        return DetectFormat(file);
    }

    /// <summary>
    /// Creates a new disk file (never overwriting an existing one) and returns it open for writing.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid for the format (sizes, block size, sector size, parent).</exception>
    /// <exception cref="IOException">The file already exists.</exception>
    public static VirtualDisk Create(string path, DiskCreateOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        string full = System.IO.Path.GetFullPath(path);
        var context = DiskOpenContext.ForRoot(DiskOpenOptions.Default, full);
        if (options.Type != DiskType.Differencing && options.ParentPath is not null)
        {
            throw new ArgumentException("A parent path is only valid for a differencing disk.", nameof(options));
        }

        if (options.Type == DiskType.Differencing && string.IsNullOrEmpty(options.ParentPath))
        {
            throw new ArgumentException("A differencing disk needs a parent path.", nameof(options));
        }

        return options.Format switch
        {
            DiskFormat.Raw => RawDisk.CreateImage(full, options),
            DiskFormat.Vhd => VhdDisk.CreateImage(full, options, context),
            DiskFormat.Vhdx => VhdxDisk.CreateImage(full, options, context),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Format, "Unknown disk format."),
        };
    }

    internal static VirtualDisk OpenCore(string fullPath, DiskOpenContext context)
    {
        DiskFile file = DiskFile.Open(fullPath, writable: !context.Options.ReadOnly);
        try
        {
            return DetectFormat(file) switch
            {
                DiskFormat.Vhdx => VhdxDisk.OpenImage(file, context),
                DiskFormat.Vhd => VhdDisk.OpenImage(file, context),
                _ => RawDisk.OpenImage(file),
            };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static DiskFormat DetectFormat(DiskFile file)
    {
        Span<byte> signature = stackalloc byte[8];
        long length = file.Length;
        if (length >= 8)
        {
            file.ReadExactly(0, signature, "file signature");
            if (signature.SequenceEqual("vhdxfile"u8))
            {
                return DiskFormat.Vhdx;
            }

            if (signature.SequenceEqual("conectix"u8))
            {
                return DiskFormat.Vhd;
            }
        }

        if (length >= 512 && length % 512 == 0)
        {
            file.ReadExactly(length - 512, signature, "VHD footer cookie");
            if (signature.SequenceEqual("conectix"u8))
            {
                return DiskFormat.Vhd;
            }
        }

        return DiskFormat.Raw;
    }
}
