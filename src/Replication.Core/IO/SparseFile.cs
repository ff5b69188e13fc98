using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Replication.Core.Disks;

namespace Replication.Core.IO;

/// <summary>
/// Finds the data (non-hole) ranges of a sparse file with lseek(SEEK_DATA / SEEK_HOLE) on Linux. Where the call is
/// not available, the whole range counts as data, which is always correct, only slower for callers.
/// </summary>
internal static partial class SparseFile
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int ENXIO = 6;

    /// <summary>Data ranges inside [offset, offset + length), widened to <paramref name="alignment"/>, clipped, merged, ascending.</summary>
    public static IEnumerable<DiskExtent> EnumerateData(SafeFileHandle handle, long offset, long length, int alignment)
    {
        long end = offset + length;
        if (!OperatingSystem.IsLinux())
        {
            yield return new DiskExtent(offset, length);
            yield break;
        }

        long position = offset;
        long pendingStart = -1, pendingEnd = -1;
        while (position < end)
        {
            long dataStart = Seek(handle, position, SeekData);
            if (dataStart == -2)
            {
                // The file system cannot say: treat the rest as data.
                dataStart = position;
            }
            else if (dataStart < 0 || dataStart >= end)
            {
                break;
            }

            long holeStart = Seek(handle, dataStart, SeekHole);
            if (holeStart < 0 || holeStart > end)
            {
                holeStart = end;
            }

            long start = Math.Max(offset, dataStart / alignment * alignment);
            long stop = Math.Min(end, (holeStart + alignment - 1) / alignment * alignment);
            if (pendingEnd >= start)
            {
                pendingEnd = Math.Max(pendingEnd, stop);
            }
            else
            {
                if (pendingEnd > pendingStart)
                {
                    yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
                }

                pendingStart = start;
                pendingEnd = stop;
            }

            position = holeStart;
        }

        if (pendingEnd > pendingStart)
        {
            yield return new DiskExtent(pendingStart, pendingEnd - pendingStart);
        }
    }

    /// <summary>lseek; returns -1 for "no more data" (ENXIO) and -2 when the call is not supported.</summary>
    private static long Seek(SafeFileHandle handle, long offset, int whence)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            long result = LSeek((int)handle.DangerousGetHandle(), offset, whence);
            if (result >= 0)
            {
                return result;
            }

            return Marshal.GetLastPInvokeError() == ENXIO ? -1 : -2;
        }
        catch (EntryPointNotFoundException)
        {
            return -2;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);
}
