using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.IO;

/// <summary>
/// Sparse files on Linux: finds the data (non-hole) ranges with lseek(SEEK_DATA / SEEK_HOLE), and punches holes with
/// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). Where a call is not available, the whole range counts as data
/// and no hole is punched (the caller writes zeros instead), which is always correct, only slower.
/// </summary>
internal static partial class SparseFile
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int ENXIO = 6;
    private const int EIntr = 4;
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;

    /// <summary>Data ranges inside [offset, offset + length), widened to <paramref name="alignment"/>, clipped, merged, ascending.</summary>
    public static IEnumerable<(long Offset, long Length)> EnumerateData(SafeFileHandle handle, long offset, long length, int alignment)
    {
        long end = offset + length;
        if (!OperatingSystem.IsLinux())
        {
            yield return (offset, length);
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
                    yield return (pendingStart, pendingEnd - pendingStart);
                }

                pendingStart = start;
                pendingEnd = stop;
            }

            position = holeStart;
        }

        if (pendingEnd > pendingStart)
        {
            yield return (pendingStart, pendingEnd - pendingStart);
        }
    }

    /// <summary>
    /// Makes [offset, offset + length) of the file read as zeros by deallocating it (partial file-system blocks at the
    /// ends are zeroed in place), keeping the file's size. Durable once the file is fsynced.
    /// </summary>
    /// <returns>False when the file system or platform cannot punch holes: the caller must write zeros instead.</returns>
    /// <exception cref="IOException">The call failed for another reason (an I/O error, a read-only file).</exception>
    public static bool TryPunchHole(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || length == 0)
        {
            return length == 0;
        }

        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int result;
            int errno;
            do
            {
                result = FAllocate((int)handle.DangerousGetHandle(), FallocPunchHole | FallocKeepSize, offset, length);
                errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            while (result != 0 && errno == EIntr);

            if (result == 0)
            {
                return true;
            }

            // EOPNOTSUPP (95), ENOSYS (38): the file system cannot; the caller writes zeros, which is always correct.
            return errno is 95 or 38 ? false : throw new IOException($"fallocate(PUNCH_HOLE) of [{offset}, {offset + length}) failed with errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).");
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
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

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);
}
