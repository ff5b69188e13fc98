using System.Collections.Immutable;
using System.Numerics;
using System.Text;
using Replication.Core.IO;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    private const long MiB = 1 << 20;

    /// <summary>
    /// Creates a VHD: fixed (a sparse file of the virtual size plus the footer), dynamic (footer copy, dynamic header,
    /// an empty block allocation table, footer) or differencing (the same, linked to a VHD parent whose size it takes).
    /// </summary>
    /// <remarks>
    /// The footer names the creator application "repl" on host "Wi2k"; its geometry is the specification's when that
    /// addresses exactly the virtual size, else the maximum geometry (see <see cref="VhdGeometry.ForSize"/>).
    /// A differencing disk records its parent three ways, all in forms Windows expects: a "W2ru" locator with the path
    /// relative to the child's folder (".\name.vhd", "..\base\name.vhd"), a "W2ku" locator with the absolute path, both
    /// UTF-16LE with backslashes (a Unix path "/a/b.vhd" is stored as "\a\b.vhd" and read back as "/a/b.vhd"), and the
    /// parent's file name in the dynamic header. <see cref="DiskCreateOptions.RoundUpToMiB"/> applies to fixed and
    /// dynamic disks; a differencing disk always has its parent's size.
    /// </remarks>
    /// <exception cref="ArgumentException">The options do not describe a valid VHD.</exception>
    internal static VhdDisk CreateImage(string fullPath, DiskCreateOptions options, DiskOpenContext context)
    {
        if (options.LogicalSectorSize != SectorSize)
        {
            throw new ArgumentException($"A VHD has 512-byte logical sectors; {options.LogicalSectorSize} was asked for.", nameof(options));
        }

        if (options.PhysicalSectorSize is not (512 or 4096))
        {
            throw new ArgumentException($"The physical sector size must be 512 or 4096, not {options.PhysicalSectorSize}.", nameof(options));
        }

        VhdDiskType type = options.Type switch
        {
            DiskType.Fixed => VhdDiskType.Fixed,
            DiskType.Dynamic => VhdDiskType.Dynamic,
            DiskType.Differencing => VhdDiskType.Differencing,
            _ => throw new ArgumentException($"Unknown disk type {options.Type}.", nameof(options)),
        };

        VirtualDisk? parent = null;
        try
        {
            long size;
            if (type == VhdDiskType.Differencing)
            {
                parent = context.OpenParent(options.ParentPath!, fullPath, 0, "parent path");
                if (parent is not VhdDisk)
                {
                    throw new ArgumentException($"The parent of a differencing VHD must be a VHD; '{parent.FilePath}' is {parent.Format}.", nameof(options));
                }

                size = parent.VirtualSize;
                if (options.VirtualSize != 0 && options.VirtualSize != size)
                {
                    throw new ArgumentException($"A differencing VHD has its parent's size, {size} bytes, not {options.VirtualSize}.", nameof(options));
                }
            }
            else
            {
                size = options.RoundUpToMiB && options.VirtualSize > 0 ? RoundUp(options.VirtualSize, MiB) : options.VirtualSize;
                if (size <= 0 || size % SectorSize != 0)
                {
                    throw new ArgumentException($"The virtual size {options.VirtualSize} must be a positive multiple of 512.", nameof(options));
                }
            }

            int blockSize = 0;
            if (type == VhdDiskType.Fixed)
            {
                if (options.BlockSize is not null)
                {
                    throw new ArgumentException("A fixed VHD has no blocks; leave the block size unset.", nameof(options));
                }
            }
            else
            {
                blockSize = ValidateDynamicOptions(options, size);
            }

            DiskFile file = DiskFile.CreateNew(fullPath);
            try
            {
                if (type == VhdDiskType.Fixed)
                {
                    WriteFixed(file, size);
                }
                else
                {
                    WriteDynamic(file, type, size, blockSize, (VhdDisk?)parent);
                }

                file.Flush();

                // Read back through the same validation as any file: what we write must be what we accept.
                return new VhdDisk(file, VhdLayout.Read(file), parent);
            }
            catch (Exception ex)
            {
                file.Dispose();
                DeletePartialFile(fullPath, ex);
                throw;
            }
        }
        catch
        {
            parent?.Dispose();
            throw;
        }
    }

    private static int ValidateDynamicOptions(DiskCreateOptions options, long size)
    {
        int blockSize = options.BlockSize ?? VhdDynamicHeader.DefaultBlockSize;
        if (blockSize < VhdDynamicHeader.MinBlockSize || blockSize > VhdDynamicHeader.MaxBlockSize || !BitOperations.IsPow2(blockSize))
        {
            throw new ArgumentException(
                $"The block size {blockSize} must be a power of two from {VhdDynamicHeader.MinBlockSize} to {VhdDynamicHeader.MaxBlockSize} bytes.",
                nameof(options));
        }

        if (size > VhdLayout.MaxDynamicSize)
        {
            throw new ArgumentException($"A dynamic or differencing VHD holds at most 2040 GiB; {size} bytes was asked for.", nameof(options));
        }

        if ((size + blockSize - 1) / blockSize > VhdLayout.MaxBlockCount)
        {
            throw new ArgumentException($"{size} bytes in blocks of {blockSize} bytes needs more than {VhdLayout.MaxBlockCount} blocks; use larger blocks.", nameof(options));
        }

        return blockSize;
    }

    private static void WriteFixed(DiskFile file, long size)
    {
        file.SetLength(size + VhdFooter.Size);
        byte[] footer = new byte[VhdFooter.Size];
        VhdFooter.CreateNew(VhdDiskType.Fixed, size, Guid.NewGuid(), DateTimeOffset.UtcNow).WriteTo(footer);
        file.Write(size, footer);
    }

    private static void WriteDynamic(DiskFile file, VhdDiskType type, long size, int blockSize, VhdDisk? parent)
    {
        long blockCount = (size + blockSize - 1) / blockSize;
        long batOffset = (long)VhdDynamicHeader.FooterCopyEnd + VhdDynamicHeader.Size;
        long batBytes = RoundUp(blockCount * sizeof(uint), SectorSize);
        long next = batOffset + batBytes;

        var locators = ImmutableArray.CreateBuilder<VhdParentLocator>();
        var locatorData = new List<(long Offset, byte[] Data)>();
        Guid parentId = Guid.Empty;
        uint parentTime = 0;
        string parentName = string.Empty;
        if (parent is not null)
        {
            string parentPath = parent.FilePath!;
            parentId = parent.UniqueId;
            parentTime = VhdTime.ToVhd(File.GetLastWriteTimeUtc(parentPath));
            parentName = Path.GetFileName(parentPath);
            string? relative = RelativeParentPath(file.Path, parentPath);
            if (relative is not null)
            {
                next = AddLocator(VhdParentLocator.PlatformW2ru, ToWindowsSeparators(relative), next, locators, locatorData);
            }

            next = AddLocator(VhdParentLocator.PlatformW2ku, ToWindowsSeparators(parentPath), next, locators, locatorData);
        }

        var header = new VhdDynamicHeader((ulong)batOffset, (uint)blockCount, blockSize, parentId, parentTime, parentName, locators.ToImmutable());
        byte[] footer = new byte[VhdFooter.Size];
        VhdFooter.CreateNew(type, size, Guid.NewGuid(), DateTimeOffset.UtcNow).WriteTo(footer);
        byte[] headerBytes = new byte[VhdDynamicHeader.Size];
        header.WriteTo(headerBytes);

        file.Write(0, footer);
        file.Write((long)VhdDynamicHeader.FooterCopyEnd, headerBytes);
        byte[] unallocated = new byte[(int)Math.Min(batBytes, MiB)];
        unallocated.AsSpan().Fill(0xFF);
        for (long done = 0; done < batBytes; done += unallocated.Length)
        {
            file.Write(batOffset + done, unallocated.AsSpan(0, (int)Math.Min(unallocated.Length, batBytes - done)));
        }

        foreach ((long offset, byte[] data) in locatorData)
        {
            file.Write(offset, data);
        }

        file.Write(next, footer);
    }

    /// <summary>Adds a UTF-16LE locator at <paramref name="next"/>, its space rounded up to whole sectors; returns the offset after it.</summary>
    private static long AddLocator(uint platform, string path, long next, ImmutableArray<VhdParentLocator>.Builder locators, List<(long Offset, byte[] Data)> data)
    {
        byte[] bytes = Encoding.Unicode.GetBytes(path);
        if (bytes.Length > VhdParentLocator.MaxDataLength)
        {
            throw new ArgumentException($"The parent path '{path}' is too long for a VHD parent locator.");
        }

        long space = RoundUp(Math.Max(bytes.Length, 1), SectorSize);
        locators.Add(new VhdParentLocator(platform, (uint)space, (uint)bytes.Length, (ulong)next));
        data.Add((next, bytes));
        return next + space;
    }

    /// <summary>The parent's path relative to the child's folder, starting ".\" or "..\" as Windows writes it; null across drives.</summary>
    private static string? RelativeParentPath(string childPath, string parentPath)
    {
        string relative = Path.GetRelativePath(Path.GetDirectoryName(childPath) ?? ".", parentPath);
        if (Path.IsPathRooted(relative))
        {
            return null;
        }

        return relative.StartsWith("..", StringComparison.Ordinal) ? relative : "." + Path.DirectorySeparatorChar + relative;
    }

    private static string ToWindowsSeparators(string path) => path.Replace(Path.DirectorySeparatorChar, '\\');

    /// <summary>
    /// Removes a file this call created but could not finish. A failure to remove it is recorded on the original
    /// exception, which is the one the caller needs to see.
    /// </summary>
    private static void DeletePartialFile(string path, Exception cause)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException deleteError)
        {
            cause.Data["PartialFileNotDeleted"] = $"{path}: {deleteError.Message}";
        }
        catch (UnauthorizedAccessException deleteError)
        {
            cause.Data["PartialFileNotDeleted"] = $"{path}: {deleteError.Message}";
        }
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
