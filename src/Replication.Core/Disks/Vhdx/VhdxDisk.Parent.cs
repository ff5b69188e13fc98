using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

internal sealed partial class VhdxDisk
{
    private const string ExtendedPathPrefix = @"\\?\";

    /// <summary>
    /// Finds and opens the parent named by the parent locator: relative_path (against the child's folder), then
    /// volume_path, then absolute_win32_path, each only where it can resolve on this operating system. The parent's
    /// DataWriteGuid must match parent_linkage or parent_linkage2.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">The locator is incomplete, or the parent found is not the one this disk was made from.</exception>
    /// <exception cref="ReplicationException">No path leads to an existing file (<see cref="ReplicationErrorCode.ParentNotFound"/>).</exception>
    private static VirtualDisk OpenParentDisk(DiskFile file, ParsedImage image, DiskOpenContext context)
    {
        VhdxParentLocator locator = image.Locator!.Value;
        long at = image.LocatorOffset;
        Guid linkage = ParseLinkage(file, locator, VhdxParentLocator.ParentLinkageKey, at, required: true)!.Value;
        Guid? linkage2 = ParseLinkage(file, locator, VhdxParentLocator.ParentLinkage2Key, at, required: false);
        string childFolder = Path.GetDirectoryName(file.Path) ?? ".";
        var tried = new List<string>();
        foreach (string key in (string[])[VhdxParentLocator.RelativePathKey, VhdxParentLocator.VolumePathKey, VhdxParentLocator.AbsoluteWin32PathKey])
        {
            string? value = locator[key];
            if (value is null)
            {
                continue;
            }

            string? candidate = ResolveParentPath(key, value, childFolder);
            if (candidate is null)
            {
                tried.Add($"{key} '{value}' (not a path on this operating system)");
                continue;
            }

            tried.Add($"{key} '{candidate}'");
            if (!File.Exists(candidate))
            {
                continue;
            }

            VirtualDisk parent = context.OpenParent(candidate, file.Path, at, "VHDX parent locator." + key);
            try
            {
                if (parent is not VhdxDisk)
                {
                    throw new InvalidDiskFormatException(file.Path, at, "VHDX parent locator." + key, $"the parent '{candidate}' is a {parent.Format} image, not VHDX");
                }

                Guid? parentGuid = parent.DataWriteGuid;
                if (parentGuid != linkage && (linkage2 is null || parentGuid != linkage2))
                {
                    throw new InvalidDiskFormatException(
                        file.Path,
                        at,
                        "VHDX parent locator.parent_linkage",
                        $"the parent '{candidate}' has DataWriteGuid {parentGuid:B}, not {linkage:B} as when this disk was created: the parent was modified since, or is another disk");
                }

                if (parent.LogicalSectorSize != image.LogicalSectorSize)
                {
                    throw new InvalidDiskFormatException(
                        file.Path, at, "VHDX parent locator." + key, $"the parent has {parent.LogicalSectorSize}-byte sectors, this disk {image.LogicalSectorSize}-byte sectors");
                }

                return parent;
            }
            catch
            {
                parent.Dispose();
                throw;
            }
        }

        if (tried.Count == 0)
        {
            throw new InvalidDiskFormatException(file.Path, at, "VHDX parent locator", "none of relative_path, volume_path and absolute_win32_path is present");
        }

        throw new ReplicationException(
            ReplicationErrorCode.ParentNotFound,
            false,
            $"{file.Path}: the parent disk was not found; tried {string.Join(", ", tried)}.");
    }

    private static Guid? ParseLinkage(DiskFile file, VhdxParentLocator locator, string key, long at, bool required)
    {
        string? value = locator[key];
        if (value is null)
        {
            return required
                ? throw new InvalidDiskFormatException(file.Path, at, "VHDX parent locator." + key, "the parent's identity is missing")
                : null;
        }

        return Guid.TryParse(value, out Guid guid)
            ? guid
            : throw new InvalidDiskFormatException(file.Path, at, "VHDX parent locator." + key, $"'{value}' is not a GUID");
    }

    /// <summary>
    /// Turns a locator path into a path on this operating system, or null when it cannot name a file here (a
    /// drive-letter, UNC or volume path on Linux). Absolute paths this library writes on Linux have the form
    /// <c>\\?\</c> followed by the POSIX path with '\' separators, and resolve back to that POSIX path.
    /// </summary>
    internal static string? ResolveParentPath(string key, string value, string childFolder)
    {
        try
        {
            switch (key)
            {
                case VhdxParentLocator.RelativePathKey:
                    string relative = OperatingSystem.IsWindows() ? value : value.Replace('\\', '/');
                    return Path.GetFullPath(Path.Combine(childFolder, relative));
                case VhdxParentLocator.VolumePathKey:
                    return OperatingSystem.IsWindows() ? value : null;
                default:
                    if (OperatingSystem.IsWindows())
                    {
                        return value;
                    }

                    string rest = value.StartsWith(ExtendedPathPrefix, StringComparison.Ordinal) ? value[ExtendedPathPrefix.Length..] : value;
                    bool windowsOnly = (rest.Length >= 2 && rest[1] == ':') || rest.StartsWith(@"UNC\", StringComparison.OrdinalIgnoreCase) || rest.StartsWith(@"\\", StringComparison.Ordinal);
                    return windowsOnly || !rest.StartsWith('\\') ? null : rest.Replace('\\', '/');
            }
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return null;
        }
    }

    /// <summary>
    /// The locator paths written for a new child: relative_path with '\' separators (".\name" in the same folder),
    /// and absolute_win32_path, <c>\\?\C:\...</c> on Windows and <c>\\?\</c> plus the POSIX path with '\' separators
    /// elsewhere. volume_path is not written.
    /// </summary>
    internal static List<KeyValuePair<string, string>> ParentPaths(string childFullPath, string parentFullPath)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        string childFolder = Path.GetDirectoryName(childFullPath) ?? ".";
        string relative = Path.GetRelativePath(childFolder, parentFullPath);
        if (!Path.IsPathRooted(relative))
        {
            relative = relative.Replace('/', '\\');
            if (!relative.StartsWith("..", StringComparison.Ordinal))
            {
                relative = @".\" + relative;
            }

            pairs.Add(new(VhdxParentLocator.RelativePathKey, relative));
        }

        string absolute = OperatingSystem.IsWindows()
            ? (parentFullPath.StartsWith(@"\\", StringComparison.Ordinal) ? ExtendedPathPrefix + @"UNC\" + parentFullPath[2..] : ExtendedPathPrefix + parentFullPath)
            : ExtendedPathPrefix + parentFullPath.Replace('/', '\\');
        pairs.Add(new(VhdxParentLocator.AbsoluteWin32PathKey, absolute));
        return pairs;
    }
}
