using System.Runtime.InteropServices;

namespace Replication.Core.IO;

/// <summary>
/// Crash-safe file operations: write a temporary file beside the target, fsync it, rename it over the target (atomic
/// on POSIX and NTFS), then fsync the directory so the rename itself survives a power loss. After a crash a reader
/// finds either the old file or the new one, never a mix. Deletions and renames fsync their directory too.
/// </summary>
internal static partial class DurableFile
{
    private const int ORdOnly = 0;
    private const int EIntr = 4;
    private const int EBadF = 9;
    private const int EInval = 22;

    /// <summary>Replaces (or creates) <paramref name="path"/> with <paramref name="contents"/>, durably and atomically.</summary>
    /// <exception cref="IOException">The write, flush or rename failed; the target is left as it was.</exception>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> contents)
    {
        (string full, string directory, string temporary) = Temporary(path);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception)
        {
            DeleteAbandoned(temporary);
            throw;
        }

        FlushDirectory(directory);
    }

    /// <summary>
    /// Replaces (or creates) <paramref name="path"/> with what <paramref name="write"/> writes to a new file beside it,
    /// durably and atomically.
    /// </summary>
    /// <exception cref="IOException">The write, flush or rename failed; the target is left as it was.</exception>
    public static async ValueTask WriteAsync(string path, Func<FileStream, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        (string full, string directory, string temporary) = Temporary(path);
        try
        {
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception)
        {
            DeleteAbandoned(temporary);
            throw;
        }

        FlushDirectory(directory);
    }

    /// <summary>
    /// Renames <paramref name="source"/> to <paramref name="destination"/> durably: the source's data is flushed first,
    /// then the rename, then the directories involved.
    /// </summary>
    public static void Move(string source, string destination, bool overwrite)
    {
        string fullSource = Path.GetFullPath(source);
        string fullDestination = Path.GetFullPath(destination);
        using (var handle = File.OpenHandle(fullSource, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        {
            RandomAccess.FlushToDisk(handle);
        }

        File.Move(fullSource, fullDestination, overwrite);
        string destinationDirectory = Path.GetDirectoryName(fullDestination)!;
        FlushDirectory(destinationDirectory);
        string sourceDirectory = Path.GetDirectoryName(fullSource)!;
        if (!string.Equals(sourceDirectory, destinationDirectory, StringComparison.Ordinal))
        {
            FlushDirectory(sourceDirectory);
        }
    }

    /// <summary>Renames a file whose data is already flushed over <paramref name="path"/>, then flushes the directory.</summary>
    public static void Replace(string flushedTemp, string path)
    {
        string full = Path.GetFullPath(path);
        File.Move(flushedTemp, full, overwrite: true);
        FlushDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>Deletes a file if it exists and makes the deletion durable; returns false when it did not exist.</summary>
    public static bool Delete(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            return false;
        }

        File.Delete(full);
        FlushDirectory(Path.GetDirectoryName(full)!);
        return true;
    }

    /// <summary>Creates <paramref name="directory"/> (and its parents) when missing, durably.</summary>
    public static void CreateDirectory(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (Directory.Exists(full))
        {
            return;
        }

        if (Path.GetDirectoryName(full) is { } parent)
        {
            CreateDirectory(parent);
        }

        Directory.CreateDirectory(full);
        if (Path.GetDirectoryName(full) is { } created)
        {
            FlushDirectory(created);
        }
    }

    /// <summary>
    /// Makes the directory's entries (files created, renamed or deleted in it) durable: open(O_RDONLY) + fsync on
    /// Linux and macOS. On Windows it does nothing: NTFS journals directory changes itself, and .NET cannot open a
    /// directory handle for flushing.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="ReplicationException">The fsync failed (<see cref="ReplicationErrorCode.IoFailure"/>).</exception>
    public static void FlushDirectory(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"{full}: the directory does not exist.");
        }

        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = Open(full, ORdOnly);
        if (fd < 0)
        {
            throw IoFailure(full, "open", Marshal.GetLastPInvokeError());
        }

        try
        {
            int result;
            int errno;
            do
            {
                result = FSync(fd);
                errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            while (result < 0 && errno == EIntr);

            // Some file systems cannot fsync a directory and say so with EINVAL (or EBADF for a read-only descriptor);
            // PostgreSQL's fsync_fname treats those as "nothing to do" for directories, and so does this.
            if (result < 0 && errno != EInval && errno != EBadF)
            {
                throw IoFailure(full, "fsync", errno);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static (string Full, string Directory, string Temporary) Temporary(string path)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException("The path has no directory.", nameof(path));
        return (full, directory, Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp"));
    }

    private static ReplicationException IoFailure(string path, string call, int errno) =>
        new(ReplicationErrorCode.IoFailure, true, $"{path}: {call} of the directory failed with errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).");

    private static void DeleteAbandoned(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (IOException)
        {
            // The original failure is what the caller needs; a leftover hidden temporary file is harmless.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
