using System.Text;
using Replication.Core.Disks;

namespace Replication.Core.Nbd;

/// <summary>
/// A disk an <see cref="NbdServer"/> offers to clients under a name. Every connection to the export reads and writes
/// this one disk instance, so a flush on any connection covers the writes completed on all of them.
/// </summary>
public sealed class NbdExport
{
    /// <summary>The longest export name accepted, in UTF-8 bytes (the protocol's recommended limit).</summary>
    public const int MaxNameLength = 256;

    /// <summary>Creates an export.</summary>
    /// <param name="name">
    /// The name clients ask for: 1 to 256 UTF-8 bytes, no control characters, no spaces, no unpaired surrogates. A client
    /// that asks for the empty name (the protocol's "default export") gets the server's first export.
    /// </param>
    /// <param name="disk">The disk served. Not disposed by the server; its owner disposes it after the server stopped.</param>
    /// <param name="readOnly">True to refuse writes, trims and zeroing (with <c>EPERM</c>); always true for a read-only disk.</param>
    /// <exception cref="ArgumentNullException"><paramref name="disk"/> is null.</exception>
    /// <exception cref="ArgumentException">The name is not valid (see <see cref="IsValidName"/>), or the disk is empty or not a whole number of sectors.</exception>
    public NbdExport(string name, IVirtualDisk disk, bool readOnly = false)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (!IsValidName(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid export name: 1 to {MaxNameLength} UTF-8 bytes, no control characters or spaces.",
                nameof(name));
        }

        if (disk.VirtualSize <= 0 || disk.VirtualSize % disk.LogicalSectorSize != 0)
        {
            throw new ArgumentException($"{disk.FilePath ?? "disk"}: an exported disk's size must be a positive multiple of its {disk.LogicalSectorSize}-byte sectors.", nameof(disk));
        }

        Name = name;
        Disk = disk;
        IsReadOnly = readOnly || disk.IsReadOnly;
        EncodedName = Encoding.UTF8.GetBytes(name);
        MinimumBlockSize = disk.LogicalSectorSize;
        PreferredBlockSize = Math.Max(4096, disk.PhysicalSectorSize);
    }

    /// <summary>The export's name.</summary>
    public string Name { get; }

    /// <summary>The disk served.</summary>
    public IVirtualDisk Disk { get; }

    /// <summary>True when writes, trims and zeroing are refused.</summary>
    public bool IsReadOnly { get; }

    /// <summary>
    /// The minimum block size advertised (the disk's logical sector size): requests whose offset or length is not a
    /// multiple of it are refused with <c>EINVAL</c>.
    /// </summary>
    public int MinimumBlockSize { get; }

    /// <summary>The preferred block size advertised: 4096, or the disk's physical sector size when larger.</summary>
    public int PreferredBlockSize { get; }

    internal byte[] EncodedName { get; }

    /// <summary>
    /// True when <paramref name="name"/> can name an export: 1 to <see cref="MaxNameLength"/> UTF-8 bytes, no control
    /// characters (NUL included), no white space, and well-formed UTF-16 (no unpaired surrogate).
    /// </summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= name.Length || !char.IsLowSurrogate(name[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }

        return Encoding.UTF8.GetByteCount(name) <= MaxNameLength;
    }
}
