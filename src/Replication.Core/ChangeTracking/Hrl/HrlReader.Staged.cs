using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Replication.Core.ChangeTracking.Hrl;

/// <content>
/// A reader over a verified staging buffer: the whole log read once, in order, into pooled memory, hashed as it was
/// read and checked against its sidecar before the reader exists. Header, metadata and data are then read from those
/// bytes and never from the file again, so what a caller applies is exactly what was verified, even if the file
/// changes afterwards, and each byte of the log is read from the file once.
/// </content>
public sealed partial class HrlReader
{
    private const string LogStructureName = "HRL log";

    /// <summary>
    /// Opens a log by reading every byte of it once into pooled memory, when it is at most <paramref name="limit"/>
    /// bytes long. With a <paramref name="sidecar"/>, the bytes are hashed as they are read and checked against it
    /// (length before anything is read or rented, then <c>UniqueId</c> and XxHash128, as
    /// <see cref="HrlIntegrity.VerifySidecar(string, CancellationToken)"/> checks the file) before the header is parsed; without one the caller
    /// verifies the recorded data checksums (<see cref="VerifyData"/>), which then read the staged bytes.
    /// </summary>
    /// <returns>The reader, owning the staged bytes (returned to the pool by <see cref="Dispose"/>); null, with nothing read or rented, when the log is longer than <paramref name="limit"/>.</returns>
    /// <exception cref="ReplicationException">The log does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    /// <exception cref="InvalidLogFormatException">The log differs from its sidecar, was cut short while read, or its header is invalid.</exception>
    internal static HrlReader? TryOpenStaged(string path, long limit, HrlSidecar? sidecar, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        SafeFileHandle handle = HrlIntegrity.OpenRead(full, FileOptions.SequentialScan, "the log file");
        StagedFile? staged = null;
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (sidecar is { } expected)
            {
                HrlIntegrity.CheckLength(full, expected, length);
            }

            if (length > limit)
            {
                handle.Dispose();
                return null;
            }

            XxHash128? hasher = sidecar is null ? null : new XxHash128();
            staged = StagedFile.Read(handle, full, length, hasher, cancellationToken);
            if (sidecar is { } verified)
            {
                Span<byte> id = stackalloc byte[16];
                Guid? uniqueId = length >= HrlFileHeader.UniqueIdOffset + id.Length ? ReadGuid(staged, id) : null;
                HrlIntegrity.CheckContent(full, verified, uniqueId, HrlIntegrity.Digest(hasher!));
            }

            if (length < HrlFileHeader.Size)
            {
                throw HeaderCutShort(full, length);
            }

            Span<byte> buffer = stackalloc byte[HrlFileHeader.Size];
            staged.CopyTo(0, buffer);
            HrlFileHeader header = HrlFileHeader.Read(buffer, full);
            ValidateSizes(header, length, full);
            var reader = new HrlReader(full, handle, header, length, staged);
            staged = null;
            return reader;
        }
        catch (Exception)
        {
            staged?.Dispose();
            handle.Dispose();
            throw;
        }
    }

    private static Guid ReadGuid(StagedFile staged, Span<byte> id)
    {
        staged.CopyTo(HrlFileHeader.UniqueIdOffset, id);
        return new Guid(id);
    }

    /// <summary>Reads exactly <paramref name="destination"/>'s length at <paramref name="fileOffset"/>, from the staged bytes when there are some.</summary>
    private void ReadAt(long fileOffset, Span<byte> destination, string structure, string field)
    {
        if (_staged is { } staged)
        {
            if (fileOffset < 0 || fileOffset > staged.Length - destination.Length)
            {
                throw CutShort(FilePath, fileOffset, destination.Length, structure, field, staged.Length);
            }

            staged.CopyTo(fileOffset, destination);
            return;
        }

        ReadExactly(_handle, FilePath, fileOffset, destination, structure, field);
    }

    /// <summary>The file's length now: the staged length for a staged log (the file is not looked at again).</summary>
    private long CurrentLength() => _staged?.Length ?? RandomAccess.GetLength(_handle);

    /// <summary>
    /// Every byte of a file, read once, in order, into pooled 4 MiB segments and optionally hashed as each 1 MiB is
    /// read (while it is still in cache). Bounded by the caller's limit, checked before anything is rented.
    /// </summary>
    internal sealed class StagedFile : IDisposable
    {
        private const int SegmentShift = 22;
        private const int SegmentSize = 1 << SegmentShift;
        private const int ReadSize = 1 << 20;

        private byte[][]? _segments;

        private StagedFile(byte[][] segments, long length)
        {
            _segments = segments;
            Length = length;
        }

        /// <summary>Bytes staged: the file's length when it was read.</summary>
        public long Length { get; }

        /// <summary>Reads <paramref name="length"/> bytes of <paramref name="handle"/> from offset 0, appending each to <paramref name="hasher"/> when given.</summary>
        /// <exception cref="InvalidLogFormatException">The file ended before <paramref name="length"/> bytes.</exception>
        public static StagedFile Read(SafeFileHandle handle, string path, long length, XxHash128? hasher, CancellationToken cancellationToken)
        {
            int count = checked((int)((length + SegmentSize - 1) >> SegmentShift));
            byte[][] segments = count == 0 ? [] : new byte[count][];
            try
            {
                for (int s = 0; s < count; s++)
                {
                    long start = (long)s << SegmentShift;
                    int size = (int)Math.Min(SegmentSize, length - start);
                    byte[] segment = segments[s] = ArrayPool<byte>.Shared.Rent(size);
                    for (int done = 0; done < size;)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Span<byte> chunk = segment.AsSpan(done, Math.Min(ReadSize, size - done));
                        int n = RandomAccess.Read(handle, chunk, start + done);
                        if (n == 0)
                        {
                            throw new InvalidLogFormatException(
                                path,
                                start + done,
                                LogStructureName,
                                "length",
                                string.Create(CultureInfo.InvariantCulture, $"the file ended at {start + done} bytes while it was read, before the {length} bytes it had when opened"));
                        }

                        hasher?.Append(chunk[..n]);
                        done += n;
                    }
                }
            }
            catch (Exception)
            {
                Return(segments);
                throw;
            }

            return new StagedFile(segments, length);
        }

        /// <summary>Copies staged bytes from <paramref name="offset"/> (the caller checked the range lies inside).</summary>
        public void CopyTo(long offset, Span<byte> destination)
        {
            byte[][] segments = _segments ?? throw new ObjectDisposedException(nameof(StagedFile));
            int done = 0;
            while (done < destination.Length)
            {
                long at = offset + done;
                int inSegment = (int)(at & (SegmentSize - 1));
                int take = Math.Min(SegmentSize - inSegment, destination.Length - done);
                segments[at >> SegmentShift].AsSpan(inSegment, take).CopyTo(destination[done..]);
                done += take;
            }
        }

        /// <summary>Copies what is staged from <paramref name="offset"/>, up to <paramref name="destination"/>'s length.</summary>
        /// <returns>Bytes copied: fewer when the staged bytes end first.</returns>
        public int CopyAtMost(long offset, Span<byte> destination)
        {
            int n = (int)Math.Clamp(Length - offset, 0, destination.Length);
            CopyTo(offset, destination[..n]);
            return n;
        }

        /// <summary>Returns the segments to the pool. Idempotent; not concurrent with reads.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _segments, null) is { } segments)
            {
                Return(segments);
            }
        }

        private static void Return(byte[][] segments)
        {
            foreach (byte[]? segment in segments)
            {
                if (segment is not null)
                {
                    ArrayPool<byte>.Shared.Return(segment);
                }
            }
        }
    }
}
