using System.Runtime.InteropServices;

namespace Replication.Core.IO;

/// <summary>
/// Durable file replacement: a rename or a new file is only durable once its directory has been fsynced as well
/// (POSIX). Directory fsync is a no-op where the platform has no such call.
/// </summary>
internal static partial class DirectorySync
{
    private const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux

    /// <summary>Flushes a directory's entries (new, renamed and deleted names) to stable storage.</summary>
    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(directory, ReadOnlyDirectory);
        if (fd < 0)
        {
            throw new IOException($"{directory}: cannot open the directory to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw new IOException($"{directory}: fsync of the directory failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Writes <paramref name="write"/>'s output to a temporary file beside <paramref name="path"/>, fsyncs it, renames it
    /// over <paramref name="path"/> and fsyncs the directory: a crash leaves the old file or the new one, never a mix.
    /// </summary>
    public static async ValueTask ReplaceFileAsync(string path, Func<FileStream, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        string temporary = path + ".tmp";
        try
        {
            var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Deletes a file and fsyncs its directory; returns false when it did not exist.</summary>
    public static bool DeleteFile(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
