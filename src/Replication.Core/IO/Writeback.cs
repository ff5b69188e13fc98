using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.IO;

/// <summary>
/// Starts writing a file's dirty pages back early (Linux sync_file_range with SYNC_FILE_RANGE_WRITE), so the flush
/// that makes the file durable at the end waits only for what was written since. Only a hint: it makes nothing durable
/// and reports nothing, and where the call is missing it does nothing; the caller still flushes.
/// </summary>
internal static partial class Writeback
{
    private const uint SyncFileRangeWrite = 2;

    /// <summary>Starts write-back of the dirty pages of [offset, offset + length) of the file (length 0: to the end).</summary>
    public static void Start(SafeFileHandle handle, long offset = 0, long length = 0)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            // The result is ignored on purpose: where the call is refused, write-back simply waits for the flush.
            _ = SyncFileRange((int)handle.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        catch (EntryPointNotFoundException)
        {
            // No sync_file_range in this C library: the flush does all the writing, as it would without the hint.
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);
}
