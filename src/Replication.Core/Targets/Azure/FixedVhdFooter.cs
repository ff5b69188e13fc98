using Replication.Core.Disks.Vhd;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// The fixed-VHD footer at the end of a page blob, so the blob is a fixed VHD Azure can boot. A thin view over the VHD
/// format's own <see cref="VhdFooter"/>: one implementation of the structure, its geometry and its checksum.
/// </summary>
internal static class FixedVhdFooter
{
    public const int Size = VhdFooter.Size;

    /// <summary>Writes the footer of a fixed disk of <paramref name="virtualSize"/> bytes.</summary>
    public static void Write(Span<byte> footer, long virtualSize, Guid uniqueId, DateTimeOffset createdAt) =>
        VhdFooter.CreateNew(VhdDiskType.Fixed, virtualSize, uniqueId, createdAt).WriteTo(footer);

    /// <summary>
    /// Checks the cookie, checksum and type of a footer and returns the disk size it states; false when the bytes are not
    /// the footer of a fixed disk.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> footer, out long virtualSize, out string problem)
    {
        virtualSize = 0;
        if (!VhdFooter.TryRead(footer, out VhdFooter parsed, out VhdFieldError error))
        {
            problem = $"{error.Field}: {error.Detail}";
            return false;
        }

        if (parsed.DiskType != VhdDiskType.Fixed)
        {
            problem = $"the disk type is {parsed.DiskType}, not fixed";
            return false;
        }

        virtualSize = (long)parsed.CurrentSize;
        problem = "";
        return true;
    }
}
