using Replication.Core.Disks.Raw;
using Replication.Core.Disks.Vhd;
using Replication.Core.Disks.Vhdx;
using Replication.Core.IO;

namespace Replication.Core.Disks;

public abstract partial class VirtualDisk
{
    /// <summary>
    /// Opens a disk of any format, detected from the file's content (never from its name): "vhdxfile" at offset 0 is
    /// VHDX; a "conectix" footer copy at offset 0 or footer at the end is VHD; the signature of a format this library
    /// does not read (qcow, qcow2, VMDK, VDI, QED) is refused; anything else is raw. A differencing disk opens its
    /// parents read-only.
    /// </summary>
    /// <exception cref="UnsupportedDiskFormatException">The file is an image in a format this library does not read.</exception>
    /// <exception cref="InvalidDiskFormatException">The file, or a parent, is corrupt or not a valid image.</exception>
    /// <exception cref="ReplicationException">The file or a parent does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static VirtualDisk Open(string path, DiskOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        return OpenCore(full, DiskOpenContext.ForRoot(options ?? DiskOpenOptions.Default, full));
    }

    /// <summary>Detects the format of an image file from its content, as <see cref="Open"/> does.</summary>
    /// <exception cref="UnsupportedDiskFormatException">The file is an image in a format this library does not read.</exception>
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

    /// <summary>Bytes read from offset 0 to recognise the formats this library does not read.</summary>
    private const int ForeignSignatureBytes = 72;

    /// <summary>"QFI" and 0xFB: the magic of qcow and qcow2 images.</summary>
    private static ReadOnlySpan<byte> QcowMagic => [0x51, 0x46, 0x49, 0xFB];

    private static DiskFormat DetectFormat(DiskFile file)
    {
        Span<byte> head = stackalloc byte[ForeignSignatureBytes];
        long length = file.Length;
        head = head[..(int)Math.Min(head.Length, length)];
        file.ReadExactly(0, head, "file signature");
        if (head.StartsWith("vhdxfile"u8))
        {
            return DiskFormat.Vhdx;
        }

        if (head.StartsWith("conectix"u8))
        {
            return DiskFormat.Vhd;
        }

        // The footer before the other formats' signatures: a fixed VHD's first bytes are its guest's, which may be anything.
        if (length >= 512 && length % 512 == 0)
        {
            Span<byte> cookie = stackalloc byte[8];
            file.ReadExactly(length - 512, cookie, "VHD footer cookie");
            if (cookie.SequenceEqual("conectix"u8))
            {
                return DiskFormat.Vhd;
            }
        }

        if (ForeignFormat(head) is { } name)
        {
            throw new UnsupportedDiskFormatException(file.Path, name);
        }

        return DiskFormat.Raw;
    }

    /// <summary>
    /// The name of the format whose signature starts the file, among those this library does not read, or null. A raw
    /// image whose first bytes happen to spell one of these is refused too (as qemu-img's probing would read it).
    /// </summary>
    private static string? ForeignFormat(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 8 && head.StartsWith(QcowMagic))
        {
            // qcow (version 1) and qcow2 (versions 2 and 3) share the magic; the version follows, big-endian.
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head[4..]) == 1 ? "qcow" : "qcow2";
        }

        if (head.StartsWith("QED\0"u8))
        {
            return "QED";
        }

        // VMDK: a hosted sparse extent ("KDMV"), an ESX sparse extent ("COWD"), or a text descriptor naming its extents.
        if (head.StartsWith("KDMV"u8) || head.StartsWith("COWD"u8) ||
            head.StartsWith("# Disk DescriptorFile"u8) || head.StartsWith("# Disk Descriptor File"u8))
        {
            return "VMDK";
        }

        // VDI: a text banner, then the signature 0xBEDA107F (little-endian) at offset 64.
        if (head.Length >= 68 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head[64..]) == 0xBEDA107F)
        {
            return "VDI";
        }

        return null;
    }
}
