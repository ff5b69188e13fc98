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

    /// <summary>
    /// Data ranges inside [offset, offset + length), widened to <paramref name="alignment"/>, clipped, merged, ascending.
    /// A <c>foreach</c> over the result allocates nothing (a struct enumerator).
    /// </summary>
    public static DataRanges EnumerateData(SafeFileHandle handle, long offset, long length, int alignment) => new(handle, offset, length, alignment);

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

    /// <summary>The data ranges of a part of a file (see <see cref="EnumerateData"/>).</summary>
    public readonly struct DataRanges(SafeFileHandle handle, long offset, long length, int alignment) : IEnumerable<(long Offset, long Length)>
    {
        /// <summary>The struct enumerator a <c>foreach</c> uses.</summary>
        public Enumerator GetEnumerator() => new(handle, offset, offset + length, alignment);

        IEnumerator<(long Offset, long Length)> IEnumerable<(long Offset, long Length)>.GetEnumerator() => GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// Walks the file with SEEK_DATA / SEEK_HOLE from the start, merging ranges that touch once widened; where the
    /// platform or file system cannot say, the rest of the range is one data range.
    /// </summary>
    public struct Enumerator(SafeFileHandle handle, long offset, long end, int alignment) : IEnumerator<(long Offset, long Length)>
    {
        private long _position = long.MinValue;
        private long _pendingStart = -1;
        private long _pendingEnd = -1;
        private bool _scanned;

        /// <inheritdoc />
        public (long Offset, long Length) Current { get; private set; }

        readonly object System.Collections.IEnumerator.Current => Current;

        /// <inheritdoc />
        public bool MoveNext()
        {
            if (!OperatingSystem.IsLinux())
            {
                if (_scanned || end <= offset)
                {
                    return false;
                }

                _scanned = true;
                Current = (offset, end - offset);
                return true;
            }

            if (_position == long.MinValue)
            {
                _position = offset;
            }

            while (!_scanned && _position < end)
            {
                long dataStart = Seek(handle, _position, SeekData);
                if (dataStart == -2)
                {
                    // The file system cannot say: treat the rest as data.
                    dataStart = _position;
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
                _position = holeStart;
                if (_pendingEnd >= start)
                {
                    _pendingEnd = Math.Max(_pendingEnd, stop);
                    continue;
                }

                (long Offset, long Length) ready = (_pendingStart, _pendingEnd - _pendingStart);
                bool hasReady = _pendingEnd > _pendingStart;
                _pendingStart = start;
                _pendingEnd = stop;
                if (hasReady)
                {
                    Current = ready;
                    return true;
                }
            }

            _scanned = true;
            if (_pendingEnd > _pendingStart)
            {
                Current = (_pendingStart, _pendingEnd - _pendingStart);
                _pendingStart = _pendingEnd = -1;
                return true;
            }

            return false;
        }

        /// <inheritdoc />
        public void Reset() => throw new NotSupportedException();

        /// <inheritdoc />
        public readonly void Dispose()
        {
        }
    }
}
