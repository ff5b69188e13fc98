using Replication.Core.IO;

namespace Replication.Core.Targets.Local;

/// <summary>
/// An opaque payload (a staged log, the manifest) stored as one file: a 64-byte header with the payload's length and
/// XxHash128, then the payload. Written to a temporary file, fsynced, renamed into place and the directory fsynced, so
/// a reader sees the whole file or none of it.
/// </summary>
/// <remarks>
/// The header is one durable record (<see cref="RecordFormat"/>, magic "REPLSEAL", version 2) whose payload is the
/// payload's length i64, its XxHash128 and a 128-bit stamp of what the payload describes (the replica's stamp for the
/// manifest; zero when none).
/// </remarks>
internal static class SealedFile
{
    public const int HeaderSize = 64;
    private const int HeaderPayloadSize = HeaderSize - RecordFormat.HeaderSize - RecordFormat.ChecksumSize;
    private static readonly RecordFormat Format = new("sealed file header", "REPLSEAL"u8, version: 2, HeaderPayloadSize, HeaderPayloadSize);

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/>, recording <paramref name="stamp"/> in the header (zero
    /// when none). When <paramref name="beforeCommit"/> is given it runs just before the rename and may throw to abandon
    /// the write (the fence check of the manifest).
    /// </summary>
    public static async ValueTask<(UInt128 Hash, long Length)> WriteAsync(
        string path, Stream content, UInt128? expectedHash, Func<ValueTask>? beforeCommit, Action? afterCommit, UInt128 stamp, CancellationToken cancellationToken)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            (UInt128 hash, long length) result;
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                stream.Position = HeaderSize;
                result = await ReplicaRequests.CopyAndHashAsync(content, stream, cancellationToken).ConfigureAwait(false);
                if (expectedHash is { } expected && expected != result.hash)
                {
                    throw ReplicaRequests.IntegrityFailure(path, expected, result.hash);
                }

                byte[] header = new byte[HeaderSize];
                WriteHeader(header, result.length, result.hash, stamp);
                stream.Position = 0;
                await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            if (beforeCommit is not null)
            {
                await beforeCommit().ConfigureAwait(false);
            }

            try
            {
                File.Move(temporary, path, overwrite: true);
                DurableFile.FlushDirectory(Path.GetDirectoryName(path)!);
            }
            finally
            {
                afterCommit?.Invoke();
            }

            return result;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Reads the header of a sealed file, or returns null when the file does not exist.</summary>
    public static (UInt128 Hash, long Length)? ReadHeader(string path) => ReadStampedHeader(path) is { } h ? (h.Hash, h.Length) : null;

    /// <summary>Reads the header of a sealed file with its stamp, or returns null when the file does not exist.</summary>
    public static (UInt128 Hash, long Length, UInt128 Stamp)? ReadStampedHeader(string path)
    {
        byte[] header = new byte[HeaderSize];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            if (stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) != HeaderSize)
            {
                throw Format.Fail(path, 0, "Length", "the file is shorter than its header");
            }

            return ParseHeader(path, header, stream.Length);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Opens the payload of a sealed file after checking all of it against its hash; the stream is read-only and
    /// seekable, positioned at the payload's start. Returns null when the file does not exist.
    /// </summary>
    public static async ValueTask<Stream?> OpenVerifiedAsync(string path, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.Asynchronous);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            byte[] header = new byte[HeaderSize];
            if (await stream.ReadAtLeastAsync(header, HeaderSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) != HeaderSize)
            {
                throw Format.Fail(path, 0, "Length", "the file is shorter than its header");
            }

            (UInt128 expected, long length, _) = ParseHeader(path, header, stream.Length);
            (UInt128 actual, _) = await ReplicaRequests.CopyAndHashAsync(stream, null, cancellationToken).ConfigureAwait(false);
            if (actual != expected)
            {
                throw ReplicaRequests.IntegrityFailure(path, expected, actual);
            }

            return new OffsetStream(stream, HeaderSize, length);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void WriteHeader(Span<byte> header, long length, UInt128 hash, UInt128 stamp)
    {
        Span<byte> payload = stackalloc byte[HeaderPayloadSize];
        var w = new RecordWriter(payload);
        w.Int64(length);
        w.UInt128(hash);
        w.UInt128(stamp);
        Format.Encode(payload, header);
    }

    private static (UInt128 Hash, long Length, UInt128 Stamp) ParseHeader(string path, ReadOnlySpan<byte> header, long fileLength)
    {
        RecordReader r = Format.Decode(header, path);
        long length = r.Int64("Length");
        if (length != fileLength - HeaderSize)
        {
            throw r.Error("Length", $"says {length} bytes but the file holds {fileLength - HeaderSize}");
        }

        UInt128 hash = r.UInt128("Hash");
        return (hash, length, r.UInt128("Stamp"));
    }

    /// <summary>A read-only, seekable view of [offset, offset + length) of a stream it owns.</summary>
    private sealed class OffsetStream(FileStream inner, long offset, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Clamp(length - _position, 0, buffer.Length);
            n = n == 0 ? 0 : RandomAccess.Read(inner.SafeFileHandle, buffer[..n], offset + _position);
            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = (int)Math.Clamp(length - _position, 0, buffer.Length);
            n = n == 0 ? 0 : await RandomAccess.ReadAsync(inner.SafeFileHandle, buffer[..n], offset + _position, cancellationToken).ConfigureAwait(false);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
