using Replication.Core.IO;

namespace Replication.Core.Disks.Vhd;

internal sealed partial class VhdDisk
{
    private const string LocatorName = "VHD parent locator";

    /// <summary>
    /// Finds and opens the parent of a differencing disk: the parent locators first (relative "W2ru", then absolute
    /// "W2ku", then "MacX" file URLs), then the parent's Unicode name in the dynamic header, relative to the child's
    /// folder. A candidate that exists but whose footer unique id is not the child's parent unique id is passed over
    /// for the next; if none matches, the mismatch is reported.
    /// </summary>
    private static VirtualDisk OpenParent(string childPath, VhdLayout layout, DiskFile file, DiskOpenContext context)
    {
        VhdDynamicHeader header = layout.Header;
        List<ParentCandidate> candidates = FindParentCandidates(childPath, layout, file);
        long uniqueIdOffset = layout.HeaderOffset + VhdDynamicHeader.ParentUniqueIdOffset;
        const string uniqueIdField = VhdDynamicHeader.Name + ".ParentUniqueId";
        if (candidates.Count == 0)
        {
            throw new InvalidDiskFormatException(
                childPath,
                layout.HeaderOffset + VhdDynamicHeader.ParentLocatorsOffset,
                VhdDynamicHeader.Name + ".ParentLocators",
                "a differencing disk with no usable parent locator and no parent name");
        }

        string? mismatch = null;
        var tried = new HashSet<string>(StringComparer.Ordinal);
        foreach (ParentCandidate candidate in candidates)
        {
            if (!tried.Add(candidate.Path) || !File.Exists(candidate.Path))
            {
                continue;
            }

            VirtualDisk parent = context.OpenParent(candidate.Path, childPath, candidate.FieldOffset, candidate.Field);
            if (parent is VhdDisk vhd && vhd.UniqueId == header.ParentUniqueId)
            {
                return parent;
            }

            mismatch ??= parent is VhdDisk other
                ? $"the parent '{candidate.Path}' has unique id {other.UniqueId}, the child expects {header.ParentUniqueId}"
                : $"the parent '{candidate.Path}' is a {parent.Format} image, not a VHD";
            parent.Dispose();
        }

        if (mismatch is not null)
        {
            throw new InvalidDiskFormatException(childPath, uniqueIdOffset, uniqueIdField, mismatch);
        }

        throw new ReplicationException(
            ReplicationErrorCode.ParentNotFound,
            false,
            $"{childPath}: the parent of this differencing disk was not found; tried {string.Join(", ", tried.Select(p => $"'{p}'"))}.");
    }

    private static List<ParentCandidate> FindParentCandidates(string childPath, VhdLayout layout, DiskFile file)
    {
        string childFolder = Path.GetDirectoryName(childPath) ?? string.Empty;
        VhdDynamicHeader header = layout.Header;
        var candidates = new List<ParentCandidate>();
        foreach (uint platform in (ReadOnlySpan<uint>)[VhdParentLocator.PlatformW2ru, VhdParentLocator.PlatformW2ku, VhdParentLocator.PlatformMacX])
        {
            for (int i = 0; i < header.ParentLocators.Length; i++)
            {
                VhdParentLocator locator = header.ParentLocators[i];
                if (locator.PlatformCode != platform || locator.PlatformDataLength == 0)
                {
                    continue;
                }

                long entryOffset = layout.HeaderOffset + VhdDynamicHeader.ParentLocatorsOffset + (i * VhdParentLocator.Size);
                string field = $"{LocatorName}[{i}] ({VhdParentLocator.PlatformName(platform)})";
                string? path = locator.DecodePath(ReadLocatorData(file, layout, locator, entryOffset, field));
                string? full = path is null ? null : ResolveParentPath(childFolder, path, relative: platform == VhdParentLocator.PlatformW2ru);
                if (full is not null)
                {
                    candidates.Add(new ParentCandidate(full, entryOffset, field));
                }
            }
        }

        string name = VhdParentLocator.ToLocalSeparators(header.ParentUnicodeName);
        if (!string.IsNullOrWhiteSpace(name))
        {
            string? full = ResolveParentPath(childFolder, name, relative: true);
            if (full is not null)
            {
                candidates.Add(new ParentCandidate(full, layout.HeaderOffset + VhdDynamicHeader.ParentUnicodeNameOffset, VhdDynamicHeader.Name + ".ParentUnicodeName"));
            }
        }

        return candidates;
    }

    /// <summary>Reads a locator's path data after checking that its length is bounded and that it lies inside the file's data.</summary>
    private static byte[] ReadLocatorData(DiskFile file, VhdLayout layout, VhdParentLocator locator, long entryOffset, string field)
    {
        if (locator.PlatformDataLength > VhdParentLocator.MaxDataLength)
        {
            throw new InvalidDiskFormatException(
                file.Path,
                entryOffset + VhdParentLocator.PlatformDataLengthOffset,
                field + ".PlatformDataLength",
                $"{locator.PlatformDataLength} bytes is longer than any path ({VhdParentLocator.MaxDataLength} bytes)");
        }

        ulong offset = locator.PlatformDataOffset;
        if (offset > (ulong)layout.DataLimit || locator.PlatformDataLength > (ulong)layout.DataLimit - offset)
        {
            throw new InvalidDiskFormatException(
                file.Path,
                entryOffset + VhdParentLocator.PlatformDataOffsetOffset,
                field + ".PlatformDataOffset",
                $"{locator.PlatformDataLength} bytes at {offset} do not lie inside the file's data below {layout.DataLimit}");
        }

        byte[] data = new byte[locator.PlatformDataLength];
        file.ReadExactly((long)offset, data, field + " data");
        return data;
    }

    /// <summary>
    /// The full path of a parent spelled <paramref name="path"/>: rooted paths as they are, others against the child's
    /// folder when <paramref name="relative"/>. Null for an absolute spelling this OS cannot use (a drive letter on Unix).
    /// </summary>
    private static string? ResolveParentPath(string childFolder, string path, bool relative)
    {
        try
        {
            if (Path.IsPathFullyQualified(path))
            {
                return Path.GetFullPath(path);
            }

            return relative ? Path.GetFullPath(Path.Combine(childFolder, path)) : null;
        }
        catch (ArgumentException)
        {
            // A path with characters this OS refuses cannot name the parent here; the next candidate may.
            return null;
        }
    }

    private readonly record struct ParentCandidate(string Path, long FieldOffset, string Field);
}
