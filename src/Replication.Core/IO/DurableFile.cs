using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.IO;

/// <summary>
/// Crash-safe replacement of small files of our own: write a temporary file, fsync it, rename it over the target, then
/// fsync the folder so the rename itself survives a power loss. A reader sees the old file or the new one, never a mix.
/// </summary>
internal static partial class DurableFile
{
    private const int OpenReadOnly = 0;
    private const int OpenDirectory = 0x10000;

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> atomically and durably.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        string temp = path + ".tmp";
        using (SafeFileHandle handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(handle, content, 0);
            RandomAccess.FlushToDisk(handle);
        }

        Replace(temp, path);
    }

    /// <summary>Renames a file that is already flushed over <paramref name="path"/>, then fsyncs the folder.</summary>
    public static void Replace(string flushedTemp, string path)
    {
        File.Move(flushedTemp, path, overwrite: true);
        FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Deletes a file if it exists and makes the deletion durable.</summary>
    public static void Delete(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
            FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
    }

    /// <summary>fsync of a folder, so renames and deletions in it are durable (Linux; elsewhere the rename is enough).</summary>
    public static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(directory, OpenReadOnly | OpenDirectory);
        if (fd < 0)
        {
            throw new IOException($"{directory}: cannot open the folder to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"{directory}: fsync of the folder failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
