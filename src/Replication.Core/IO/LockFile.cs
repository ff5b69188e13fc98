using System.Runtime.InteropServices;

namespace Replication.Core.IO;

/// <summary>
/// A small file opened with a raw descriptor so that flock(2) shared and exclusive locks can be taken on it directly
/// (FileStream takes locks of its own on Unix). Positional reads and writes, fsync. Linux only.
/// </summary>
internal sealed partial class LockFile : IDisposable
{
    private const int ReadWriteCreate = 0x2 | 0x40 | 0x80000; // O_RDWR | O_CREAT | O_CLOEXEC
    private const int LockShared = 1;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int UnlockOperation = 8;
    private const int WouldBlock = 11; // EWOULDBLOCK
    private const int Interrupted = 4; // EINTR

    private int _fd;

    private LockFile(string path, int fd)
    {
        Path = path;
        _fd = fd;
    }

    public string Path { get; }

    /// <summary>Opens (creating when missing) the file; <paramref name="created"/> tells whether it was empty.</summary>
    public static LockFile Open(string path, out bool created)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The local directory target's fence needs flock(2) (Linux).");
        }

        bool existed = File.Exists(path);
        int fd = OpenNative(path, ReadWriteCreate, Convert.ToInt32("644", 8));
        if (fd < 0)
        {
            throw new IOException($"{path}: cannot open the fence file (errno {Marshal.GetLastPInvokeError()}).");
        }

        created = !existed;
        return new LockFile(path, fd);
    }

    /// <summary>
    /// The process that took a flock(2) lock on this file, as /proc/locks tells (the first one listed), or null when no
    /// lock is listed or the list cannot be read.
    /// </summary>
    public int? HolderProcessId()
    {
        try
        {
            if (FileStamp.InodeOf(Path) is not { } inode)
            {
                return null;
            }

            foreach (string line in File.ReadLines("/proc/locks"))
            {
                // "1: FLOCK  ADVISORY  WRITE 1234 fd:00:5678 0 EOF"
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 6 && fields[1] == "FLOCK" && fields[5].Split(':') is [_, _, var ino]
                    && ulong.TryParse(ino, System.Globalization.CultureInfo.InvariantCulture, out ulong listed) && listed == inode
                    && int.TryParse(fields[4], System.Globalization.CultureInfo.InvariantCulture, out int pid))
                {
                    return pid;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>Tries to take the exclusive or shared lock until <paramref name="wait"/> has passed; false when it could not.</summary>
    public async ValueTask<bool> TryLockAsync(bool exclusive, TimeSpan wait, CancellationToken cancellationToken)
    {
        long started = Environment.TickCount64;
        int delay = 1;
        while (true)
        {
            int result = FLock(_fd, (exclusive ? LockExclusive : LockShared) | LockNonBlocking);
            if (result == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != WouldBlock && errno != Interrupted)
            {
                throw new IOException($"{Path}: flock failed (errno {errno}).");
            }

            if (Environment.TickCount64 - started >= wait.TotalMilliseconds)
            {
                return false;
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 50);
        }
    }

    public void Unlock()
    {
        if (FLock(_fd, UnlockOperation) != 0)
        {
            throw new IOException($"{Path}: unlocking failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns how many were read.</summary>
    public unsafe int Read(long offset, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            long n = PRead(_fd, p, (nuint)buffer.Length, offset);
            return n >= 0 ? (int)n : throw new IOException($"{Path}: read failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Writes all of <paramref name="buffer"/> at <paramref name="offset"/> and fsyncs the file.</summary>
    public unsafe void WriteDurably(long offset, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            long n = PWrite(_fd, p, (nuint)buffer.Length, offset);
            if (n != buffer.Length)
            {
                throw new IOException($"{Path}: write failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }

        if (FSync(_fd) != 0)
        {
            throw new IOException($"{Path}: fsync failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FLock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial long PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial long PWrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
